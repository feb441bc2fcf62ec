import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeInput } from '../../../shared/convert/decode-input.ts';
import { convertStream } from '../../../shared/convert/pipeline.ts';
import { UnusableInputError } from '../../../shared/convert/readers/errors.ts';
import { wordTokens } from '../../support/word-tokens.ts';
import { describeBinaryInput } from '../../../shared/convert/binary-formats.ts';

const text = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n';

test('files that are not UTF-8 text are named for what they are, with what to do instead', () => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    [
      'an Excel workbook',
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]),
      'faq.xlsx',
      /Excel workbook \(\.xlsx\): export the sheet as CSV/,
    ],
    ['a legacy .xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 'faq.xls', /legacy Excel/],
    [
      'Parquet',
      Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 1)]),
      'train-00000-of-00001.parquet',
      /Parquet .*export it as JSON Lines/,
    ],
  ];
  for (const [what, bytes, name, expected] of cases) assert.match(describeBinaryInput(bytes, name) ?? '(nothing)', expected, what);
});

test('UTF-8 text, with or without a BOM, in any language, is not mistaken for a binary format', () => {
  for (const sample of [
    text,
    '\ufeffquestion,answer\n왜요?,그냥요\n',
    'PK is a column name,then\nvalue,other\n',
    '質問,回答\nこんにちは,どうも\n',
  ]) {
    assert.equal(describeBinaryInput(Buffer.from(sample, 'utf8'), 'data.csv'), null, sample.slice(0, 20));
  }
});

async function convertBytes(bytes: Uint8Array, fileName: string) {
  const lines: string[] = [];
  const report = await convertStream({
    input: (async function* () {
      // In small chunks, so a gzip member, a UTF-16 pair and a BOM all cross chunk edges.
      for (let at = 0; at < bytes.length; at += 7) yield bytes.subarray(at, at + 7);
    })(),
    fileName,
    format: 'auto',
    maxPartTokens: 8192,
    baseModel: 'gemini-3.5-flash-lite',
    validationFraction: 0,
    seed: 1,
    epochs: null,
    tokens: wordTokens,
    sinks: { train: { write: (line) => void lines.push(line) }, validation: { write: () => undefined } },
  });
  return { report, lines };
}

test('gzip and UTF-16 files are read as the text they hold: the same examples as from UTF-8, the format told by the name under .gz', async () => {
  const csv = 'question,answer\n왜요?,그냥요\n"Hello, world","He said ""hi"""\n';
  const expected = await convertBytes(Buffer.from(csv, 'utf8'), 'faq.csv');
  assert.equal(expected.lines.length, 2);
  const cases: [string, Uint8Array, string][] = [
    ['gzip', gzipSync(csv), 'faq.csv.gz'],
    ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')]), 'faq.csv'],
    ['UTF-16LE without a BOM', Buffer.from(csv, 'utf16le'), 'faq.csv'],
    ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(csv, 'utf16le').swap16()]), 'faq.csv'],
    ['gzip of UTF-16', gzipSync(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')])), 'faq.csv.gz'],
  ];
  for (const [what, bytes, name] of cases) {
    const { lines, report } = await convertBytes(bytes, name);
    assert.deepEqual(lines, expected.lines, what);
    assert.equal(report.format, 'csv', what);
  }
  const jsonl = await convertBytes(gzipSync(text), 'train.jsonl.gz');
  assert.equal(jsonl.lines.length, 1);
});

test('UTF-16 with a surrogate left without its pair: that record is reported at its line, the others convert', async () => {
  const before = 'question,answer\n왜요?,그냥요\ncut ';
  const after = ',half\n"Hello, world",hi 👍\n';
  const utf16le = Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    Buffer.from(before, 'utf16le'),
    Buffer.from([0x3d, 0xd8]),
    Buffer.from(after, 'utf16le'),
  ]);
  const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(utf16le.subarray(2)).swap16()]);
  for (const [what, bytes] of [
    ['UTF-16LE', utf16le],
    ['UTF-16BE', utf16be],
  ] as const) {
    const { lines, report } = await convertBytes(bytes, 'faq.csv');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).contents[0].parts[0].text),
      ['왜요?', 'Hello, world'],
      what,
    );
    assert.deepEqual(
      report.errors.map(({ line, code, path }) => ({ line, code, path })),
      [{ line: 3, code: 'invalid_utf8', path: 'question' }],
      what,
    );
    assert.match(report.errors[0]!.message, /a UTF-16 surrogate without its pair \(U\+D83D; an emoji cut in half\?\) after "cut "/, what);
  }
});

test('property: UTF-16 in any chunks becomes the UTF-8 of its text, an unpaired surrogate the three bytes UTF-8 would give it', async () => {
  // The reference: each code point (an unpaired surrogate is one) in UTF-8's bit layout.
  const reference = (text: string) =>
    Buffer.from(
      [...text].flatMap((character) => {
        const c = character.codePointAt(0)!;
        if (c < 0x80) return [c];
        if (c < 0x800) return [0xc0 | (c >> 6), 0x80 | (c & 0x3f)];
        if (c < 0x10000) return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)];
        return [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)];
      }),
    );
  const unit = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 3 }),
    fc.constantFrom('\ud83d', '\udc4d', '\ud83d\udc4d', 'é', '\ufeff', 'a'),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(unit, { maxLength: 12 }).map((parts) => parts.join('')),
      fc.constantFrom('utf-16le', 'utf-16be'),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      async (text, encoding, cuts) => {
        const body = Buffer.from(text, 'utf16le');
        const bytes = encoding === 'utf-16le' ? body : Buffer.from(body).swap16();
        const chunks = async function* () {
          let at = 0;
          for (const size of cuts) {
            yield bytes.subarray(at, at + size);
            at += size;
          }
          yield bytes.subarray(Math.min(at, bytes.length));
        };
        const out: Uint8Array[] = [];
        for await (const chunk of decodeInput(chunks(), encoding, 'x.csv').stream) out.push(chunk);
        // A leading U+FEFF is the byte-order mark, not text.
        assert.deepEqual(Buffer.concat(out), reference(text.startsWith('\ufeff') ? text.slice(1) : text), JSON.stringify(text));
      },
    ),
    { numRuns: 3000 },
  );
});

test('a gzip file cut short is an unusable input naming it, not a crash', async () => {
  const whole = gzipSync(text.repeat(2000));
  await assert.rejects(
    convertBytes(whole.subarray(0, whole.length - 40), 'train.jsonl.gz'),
    (error: unknown) => error instanceof UnusableInputError && /gzip data that breaks off/.test(error.message),
  );
});
