import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readDelimited } from '../../../shared/convert/readers/delimited.ts';
import { UnusableInputError } from '../../../shared/convert/readers/errors.ts';
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
  assert.deepEqual(records.map((r) => ('code' in r ? `${r.line}:${r.code}` : `${r.line}:ok`)), ['1:ok', '2:line_too_long', '3:ok']);
});

test('JSON Lines: invalid UTF-8 is a located failure', async () => {
  const bytes = new Uint8Array([...utf8('{"a":1}\n{"b":"'), 0xff, 0xfe, ...utf8('"}\n')]);
  const records = await collect(readJsonLines(chunked(bytes, [])));
  assert.equal((records[1] as { code: string }).code, 'invalid_utf8');
  assert.equal(records[1]!.line, 2);
});

test('property: any chunking of a JSONL or JSON-array file gives the same records as one chunk', async () => {
  const values = fc.array(fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v, s: 'multi\nline "quoted" [brackets] {braces} 한글 😀' })), { minLength: 1, maxLength: 8 });
  await fc.assert(
    fc.asyncProperty(values, fc.array(fc.nat({ max: 2000 }), { maxLength: 12 }), async (items, cuts) => {
      const jsonl = utf8(items.map((i) => JSON.stringify(i)).join('\n'));
      assert.deepEqual(await collect(readJsonLines(chunked(jsonl, cuts))), await collect(readJsonLines(chunked(jsonl, []))));
      const array = utf8(`[\n ${items.map((i) => JSON.stringify(i, null, 1)).join(' ,\n ')} ]\n`);
      const records = await collect(readJsonArray(chunked(array, cuts)));
      assert.deepEqual(records, items.map((value, index) => ({ line: index + 1, value: JSON.parse(JSON.stringify(value)) })));
    }),
    { numRuns: 150, seed: 11 },
  );
});

test('JSON array: truncated file reports the unfinished item; a non-array file is unusable', async () => {
  const records = await collect(readJsonArray(chunked(utf8('[{"a":1}, {"b": [1, 2'), [])));
  assert.deepEqual(records.map((r) => ('code' in r ? `${r.line}:${r.code}` : `${r.line}:ok`)), ['1:ok', '2:invalid_json']);
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
  assert.deepEqual(rows.slice(4).map((r) => ('code' in r ? `${r.line}:${r.code}` : 'ok')), ['7:csv_parse_error']);
});

test('TSV, too many fields is a located error, and non-UTF-8 text is unusable', async () => {
  const { records } = await readDelimited(chunked(utf8('input\toutput\na\tb\nc\td\te\n'), []), '\t');
  const rows = await collect(records);
  assert.deepEqual(rows[0], { line: 2, value: { input: 'a', output: 'b' } });
  assert.equal((rows[1] as { code: string }).code, 'csv_parse_error');
  const latin1 = new Uint8Array([...utf8('prompt,response\n'), 0x63, 0x61, 0x66, 0xe9, ...utf8(',x\n')]);
  await assert.rejects(async () => collect((await readDelimited(chunked(latin1, []), ',')).records), /not UTF-8 text/);
});
