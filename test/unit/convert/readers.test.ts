import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { plainRecordCells } from '../../../shared/convert/readers/delimited-cells.ts';
import { frameDelimitedRecords } from '../../../shared/convert/readers/delimited-framing.ts';
import { readDelimited } from '../../../shared/convert/readers/delimited.ts';
import { UnusableInputError } from '../../../shared/convert/readers/errors.ts';
import { firstInvalidUtf8 } from '../../../shared/convert/readers/invalid-utf8.ts';
import { readJsonArray } from '../../../shared/convert/readers/json-array.ts';
import { readJsonLines } from '../../../shared/convert/readers/jsonl.ts';

async function* chunked(bytes: Uint8Array, cuts: number[]) {
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut > at && cut < bytes.length) {
      yield bytes.subarray(at, cut);
      at = cut;
    }
  }
  yield bytes.subarray(at);
}
const collect = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};
const utf8 = (text: string) => new TextEncoder().encode(text);

test('JSON Lines: numbered lines, BOM, CRLF, blank lines skipped, bad JSON located', async () => {
  const records = await collect(readJsonLines(chunked(utf8('\ufeff{"a":1}\r\n\n{"b":2}\n{oops\n  \n{"c":"한"}'), [])));
  assert.deepEqual(records, [
    { line: 1, value: { a: 1 } },
    { line: 3, value: { b: 2 } },
    { line: 4, code: 'invalid_json', message: (records[2] as { message: string }).message },
    { line: 6, value: { c: '한' } },
  ]);
});

test('JSON Lines: a line over the byte cap is reported, not buffered, and the next line is read', async () => {
  const big = `{"x":"${'a'.repeat(5000)}"}`;
  const records = await collect(readJsonLines(chunked(utf8(`{"a":1}\n${big}\n{"b":2}\n`), [100, 2000, 4000]), { maxRecordBytes: 1000 }));
  assert.deepEqual(
    records.map((r) => ('code' in r ? `${r.line}:${r.code}` : `${r.line}:ok`)),
    ['1:ok', '2:record_too_large', '3:ok'],
  );
});

test('JSON Lines: invalid UTF-8 is a located failure', async () => {
  const bytes = new Uint8Array([...utf8('{"a":1}\n{"b":"'), 0xff, 0xfe, ...utf8('"}\n')]);
  const records = await collect(readJsonLines(chunked(bytes, [])));
  assert.equal((records[1] as { code: string }).code, 'invalid_utf8');
  assert.equal(records[1]!.line, 2);
});

test('property: any chunking of a JSONL or JSON-array file gives the same records as one chunk', async () => {
  const values = fc.array(
    fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v, s: 'multi\nline "quoted" [brackets] {braces} 한글 😀' })),
    { minLength: 1, maxLength: 8 },
  );
  await fc.assert(
    fc.asyncProperty(values, fc.array(fc.nat({ max: 2000 }), { maxLength: 12 }), async (items, cuts) => {
      const jsonl = utf8(items.map((i) => JSON.stringify(i)).join('\n'));
      assert.deepEqual(await collect(readJsonLines(chunked(jsonl, cuts))), await collect(readJsonLines(chunked(jsonl, []))));
      const texts = items.map((i) => JSON.stringify(i, null, 1));
      const array = utf8(`[\n ${texts.join(' ,\n ')} ]\n`);
      const records = await collect(readJsonArray(chunked(array, cuts)));
      // Each item starts on the line after the one the item before it ended on.
      let line = 2;
      const expected = items.map((value, index) => {
        const at = { line, item: index + 1, value: JSON.parse(JSON.stringify(value)) };
        line += texts[index]!.split('\n').length;
        return at;
      });
      assert.deepEqual(records, expected);
    }),
    { numRuns: 150, seed: 11 },
  );
});

test('JSON array: truncated file reports the unfinished item; a non-array file is unusable', async () => {
  const records = await collect(readJsonArray(chunked(utf8('[{"a":1}, {"b": [1, 2'), [])));
  assert.deepEqual(
    records.map((r) => ('code' in r ? `${r.line}/${r.item}:${r.code}` : `${r.line}/${r.item}:ok`)),
    ['1/1:ok', '1/2:invalid_json'],
  );
  assert.match(
    (records[1] as { message: string }).message,
    /ends inside the item at \[1\] \(from line 1\).* the 1 item\(s\) before it were read/,
  );
});

test('JSON array: an item that is not valid JSON is placed at its line and column in the file, and the items after it are read', async () => {
  const file = '[\n  {"contents": []},\n  {"contents": [\n    {"role": "user",, "parts": []}\n  ]},\n  {"contents": [1]}\n]\n';
  const records = await collect(readJsonArray(chunked(utf8(file), [9, 30])));
  assert.deepEqual(
    records.map((r) => ('code' in r ? `${r.line}/${r.item}:${r.code}` : `${r.line}/${r.item}:ok`)),
    ['2/1:ok', '3/2:invalid_json', '6/3:ok'],
  );
  // The second of the doubled commas is on line 4 of the file, column 21.
  assert.match((records[1] as { message: string }).message, /the item at \[1\] is not valid JSON: .*\(line 4, column 21 of the file\)/);
  await assert.rejects(collect(readJsonArray(chunked(utf8('{"a":1}'), []))), UnusableInputError);
});

test('CSV: header, BOM, quoted commas and newlines, doubled quotes, rows located at their first line', async () => {
  const csv = '\ufeffprompt,response\n"Hello, world","He said ""hi""\nthen left"\n\nplain,row\nlast,one\n"unclosed,1\n';
  const { header, records } = await readDelimited(chunked(utf8(csv), [5, 30]), ',');
  assert.deepEqual(header, ['prompt', 'response']);
  const rows = await collect(records);
  assert.deepEqual(rows[0], { line: 2, value: { prompt: 'Hello, world', response: 'He said "hi"\nthen left' } });
  assert.deepEqual(rows[1], { line: 4, value: { prompt: '', response: '' } });
  assert.deepEqual(rows[2], { line: 5, value: { prompt: 'plain', response: 'row' } });
  assert.deepEqual(rows[3], { line: 6, value: { prompt: 'last', response: 'one' } });
  assert.deepEqual(
    rows.slice(4).map((r) => ('code' in r ? `${r.line}:${r.code}` : 'ok')),
    ['7:unclosed_quote'],
  );
});

test('CSV: a quote that never closes is named at the line it opened, and the rows it swallowed are read as rows', async () => {
  const lines = ['q,a', 'hello,world', 'x,"never closed', ...Array.from({ length: 20 }, (_, i) => `row${i},ans${i}`)];
  const { records } = await readDelimited(chunked(utf8(lines.join('\r\n')), [7, 40, 41, 90]), ',');
  const rows = await collect(records);
  assert.deepEqual(rows[0], { line: 2, value: { q: 'hello', a: 'world' } });
  assert.equal((rows[1] as { code: string }).code, 'unclosed_quote');
  assert.equal(rows[1]!.line, 3);
  assert.match((rows[1] as { message: string }).message, /a quote opened on line 3 never closes/);
  assert.deepEqual(
    rows.slice(2),
    Array.from({ length: 20 }, (_, i) => ({ line: 4 + i, value: { q: `row${i}`, a: `ans${i}` } })),
  );
});

test('CSV: one malformed quote costs its own row, not the rows after it (csv-parse alone lost them all)', async () => {
  const { records } = await readDelimited(chunked(utf8('q,a\n"abc"d,e\nnext,row\nthird,"multi\nline"\nlast,one\n'), [3, 12]), ',');
  const rows = await collect(records);
  assert.deepEqual(
    rows.map((r) => ('code' in r ? `${r.line}:${r.code}` : `${r.line}:${Object.values(r.value as object).join('|')}`)),
    ['2:csv_parse_error', '3:next|row', '4:third|multi\nline', '6:last|one'],
  );
});

test('CSV: a record over the per-record limit is reported with its lines and never held; the next rows are read', async () => {
  const huge = 'word, '.repeat(40_000); // 240 KB in one quoted field, over lines 3–5
  const csv = `q,a\nfirst,row\n"${huge}\n${huge}\n${huge}",x\nafter,row\n`;
  const { records } = await readDelimited(chunked(utf8(csv), [100, 70_000, 300_000]), ',', { maxRecordBytes: 64 * 1024 });
  const rows = await collect(records);
  assert.deepEqual(rows[0], { line: 2, value: { q: 'first', a: 'row' } });
  assert.equal((rows[1] as { code: string }).code, 'record_too_large');
  assert.match((rows[1] as { message: string }).message, /lines 3–5 is over the per-record limit of 65536 bytes/);
  assert.deepEqual(rows[2], { line: 6, value: { q: 'after', a: 'row' } });
  // An unclosed quote past the limit: named where it opened, and the unread lines said.
  const open = await collect(
    (await readDelimited(chunked(utf8(`q,a\nok,1\n"${huge}\nmore\n`), [50]), ',', { maxRecordBytes: 64 * 1024 })).records,
  );
  assert.match(
    (open[1] as { message: string }).message,
    /a quote opened on line 3 never closes: the file ends inside it, and lines 3–5 could not be read/,
  );
});

test('CSV: any table, written as a spreadsheet would and cut anywhere, reads back cell for cell at the right lines (CRLF, lone CR, quotes)', async () => {
  const cell = fc.stringMatching(/^[a-z ,"\r\n]{0,12}$/);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(cell, cell), { minLength: 1, maxLength: 12 }),
      fc.constantFrom('\n', '\r\n', '\r'),
      fc.array(fc.nat(400), { maxLength: 6 }),
      async (table, eol, cuts) => {
        const quote = (text: string) => (/[",\r\n]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text);
        const rows = table.map(([a, b]) => `${quote(a)},${quote(b)}`);
        const { header, records } = await readDelimited(chunked(utf8(['a,b', ...rows].join(eol) + eol), cuts), ',');
        assert.deepEqual(header, ['a', 'b']);
        const read = await collect(records);
        assert.deepEqual(
          read.map((r) => ('value' in r ? r.value : r)),
          table.map(([a, b]) => ({ a, b })),
        );
        let line = 2;
        read.forEach((record, index) => {
          assert.equal(record.line, line);
          // A line break is LF, CRLF or a lone CR, inside quotes as outside.
          line += 1 + (rows[index]!.match(/\r\n|\r|\n/g)?.length ?? 0);
        });
      },
    ),
    { numRuns: 300 },
  );
});

test('TSV, too many fields is a located error', async () => {
  const { records } = await readDelimited(chunked(utf8('input\toutput\na\tb\nc\td\te\n'), []), '\t');
  const rows = await collect(records);
  assert.deepEqual(rows[0], { line: 2, value: { input: 'a', output: 'b' } });
  assert.equal((rows[1] as { code: string }).code, 'csv_parse_error');
});

test('CSV saved as Windows-1252: each record that is not UTF-8 is reported with its column and bad byte, the others are read', async () => {
  // "café" and "résumé" as Excel's plain "CSV" saves them: one byte each for é, 0xE9.
  const latin1 = (text: string) => Uint8Array.from(text, (character) => character.charCodeAt(0));
  const file = latin1('prompt,response\nhello,world\ncafé au lait,"yes\nété"\nfine,ok\n"multi\nline",résumé\n');
  for (const cut of [0, 20, 33, 47]) {
    const rows = await collect((await readDelimited(chunked(file, [cut]), ',')).records);
    assert.deepEqual(rows, [
      { line: 2, value: { prompt: 'hello', response: 'world' } },
      {
        line: 3,
        code: 'invalid_utf8',
        path: 'prompt',
        message: 'the record is not valid UTF-8 text: byte 0xE9 after "caf"; save the file as UTF-8 (in Excel: Save As, CSV UTF-8)',
      },
      { line: 5, value: { prompt: 'fine', response: 'ok' } },
      {
        line: 6,
        code: 'invalid_utf8',
        path: 'response',
        message:
          'the record is not valid UTF-8 text: byte 0xE9 after "r" (on line 7); save the file as UTF-8 (in Excel: Save As, CSV UTF-8)',
      },
    ]);
  }
  const header = latin1('prompt,réponse\na,b\n');
  await assert.rejects(
    async () => collect((await readDelimited(chunked(header, []), ',')).records),
    (error: Error) => error instanceof UnusableInputError && /header could not be read: .*byte 0xE9 after "r"/.test(error.message),
  );
});

test('property: a record split without csv-parse has exactly the cells csv-parse gives it, and most plain records are', async () => {
  let split = 0;
  let runs = 0;
  const unquoted = fc.string({ unit: fc.constantFrom('a', 'é', '👍', ' ', 'x', '"', ',', '\t'), maxLength: 6 });
  const quoted = fc
    .string({ unit: fc.constantFrom('a', ' ', ',', '\t', '""', '\n', '\r', '\r\n', '👍'), maxLength: 6 })
    .map((inside) => `"${inside}"`);
  const field = fc.oneof(unquoted, quoted, fc.string({ unit: fc.constantFrom('a', '"', ',', ' ', '\t'), maxLength: 5 }));
  // Only what the framer hands on is ever split: fields joined at random can close each other's
  // quotes and leave a line break outside them, which the framer ends a record at.
  async function* oneChunk(bytes: Uint8Array) {
    yield bytes;
  }
  const framesWhole = async (record: string, delimiter: string) => {
    const framed = [];
    for await (const item of frameDelimitedRecords(oneChunk(new TextEncoder().encode(record)), {
      delimiter: delimiter.charCodeAt(0),
      maxRecordBytes: 1 << 20,
    }))
      framed.push(item);
    return framed.length === 1 && 'text' in framed[0]! && framed[0].text === record;
  };
  await fc.assert(
    fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 6 }), fc.constantFrom(',', '\t'), async (fields, delimiter) => {
      const record = fields.join(delimiter);
      if (!(await framesWhole(record, delimiter))) return;
      runs += 1;
      const cells = plainRecordCells(record, delimiter);
      if (cells === null) return;
      split += 1;
      // As readDelimited calls it, with the record among others in a batch.
      const rows = parse(`${record}\nend`, { delimiter, record_delimiter: '\n', relax_column_count: true, skip_empty_lines: false });
      assert.deepEqual(rows, [cells, ['end']], JSON.stringify(record));
    }),
    { numRuns: 3000 },
  );
  assert.ok(split > runs / 3, `only ${split} of ${runs} records were split directly`);
});

test('UTF-8 across chunk boundaries: a character cut between chunks is fine; a bad byte or a file cut inside a character costs its record', async () => {
  const bytes = utf8('prompt,response\n"héllo 👍",ok\n');
  for (let cut = 1; cut < bytes.length; cut++) {
    const chunks = (async function* () {
      yield bytes.subarray(0, cut);
      yield bytes.subarray(cut);
    })();
    const { records } = await readDelimited(chunks, ',');
    assert.deepEqual(await collect(records), [{ line: 2, value: { prompt: 'héllo 👍', response: 'ok' } }], `cut at ${cut}`);
  }
  const bad = (async function* () {
    yield utf8('prompt,response\nok,ok\n');
    yield new Uint8Array([0x61, 0xff, 0x0a, 0x62, 0x2c, 0x63, 0x0a]);
  })();
  assert.deepEqual(
    (await collect((await readDelimited(bad, ',')).records)).map((row) =>
      'code' in row ? `${row.line} ${row.path}: ${row.message}` : row,
    ),
    [
      { line: 2, value: { prompt: 'ok', response: 'ok' } },
      '3 prompt: the record is not valid UTF-8 text: byte 0xFF after "a"; save the file as UTF-8 (in Excel: Save As, CSV UTF-8)',
      { line: 4, value: { prompt: 'b', response: 'c' } },
    ],
  );
  const cutShort = (async function* () {
    yield utf8('prompt,response\nok,ok\n');
    yield new Uint8Array([0x61, 0x2c, 0xf0, 0x9f]);
  })();
  const rows = await collect((await readDelimited(cutShort, ',')).records);
  assert.equal(rows.length, 2);
  assert.match((rows[1] as { message: string }).message, /a character cut short \(0xF0 0x9F\) at its start/);
  assert.equal((rows[1] as { path: string }).path, 'response');
});

test('property: firstInvalidUtf8 finds exactly where the WHATWG decoder first refuses', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const accepts = (bytes: Uint8Array) => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  // Bytes drawn near the edges of UTF-8's ranges, so overlongs, surrogates and cut sequences are common.
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
  );
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 12 }), (list) => {
      const bytes = Uint8Array.from(list);
      const offset = firstInvalidUtf8(bytes);
      if (offset === -1) return assert.ok(accepts(bytes));
      assert.ok(!accepts(bytes), 'refused bytes the decoder accepts');
      assert.ok(accepts(bytes.subarray(0, offset)), 'the bytes before the offset decode');
      // What the lenient decoder puts at that place is its first replacement character.
      const before = new TextDecoder().decode(bytes.subarray(0, offset));
      assert.equal(new TextDecoder().decode(bytes).indexOf('\uFFFD', before.length), before.length);
    }),
    { numRuns: 20000 },
  );
});
