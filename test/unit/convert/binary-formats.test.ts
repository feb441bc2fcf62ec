import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describeBinaryInput } from '../../../shared/convert/binary-formats.ts';

const text = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n';

test('files that are not UTF-8 text are named for what they are, with what to do instead', () => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['gzip', gzipSync(text), 'train.jsonl.gz', /gzip-compressed: decompress it first/],
    ['UTF-16 with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'train.jsonl', /UTF-16 text: save it as UTF-8/],
    ['UTF-16 without a BOM', Buffer.from(text, 'utf16le'), 'train.jsonl', /UTF-16 text/],
    ['UTF-16 big-endian', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]), 'train.csv', /UTF-16 text/],
    ['an Excel workbook', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]), 'faq.xlsx', /Excel workbook \(\.xlsx\): export the sheet as CSV/],
    ['a legacy .xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 'faq.xls', /legacy Excel/],
    ['Parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 1)]), 'train-00000-of-00001.parquet', /Parquet .*export it as JSON Lines/],
  ];
  for (const [what, bytes, name, expected] of cases) assert.match(describeBinaryInput(bytes, name) ?? '(nothing)', expected, what);
});

test('UTF-8 text, with or without a BOM, in any language, is not mistaken for a binary format', () => {
  for (const sample of [text, '\ufeffquestion,answer\n왜요?,그냥요\n', 'PK is a column name,then\nvalue,other\n', '質問,回答\nこんにちは,どうも\n']) {
    assert.equal(describeBinaryInput(Buffer.from(sample, 'utf8'), 'data.csv'), null, sample.slice(0, 20));
  }
});
