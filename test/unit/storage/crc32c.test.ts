import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import { Crc32c } from '../../../adapters/storage/crc32c.ts';

test('CRC32C: the check value of "123456789", and the Cloud Storage client library\'s value for any bytes fed in any pieces', () => {
  // The standard check value of CRC-32C (Castagnoli).
  assert.equal(new Crc32c().update(Buffer.from('123456789')).value(), 0xe3069283);
  // The library's own example: 'data' hashes to 'rth90Q=='.
  assert.equal(new Crc32c().update(Buffer.from('data')).toString(), 'rth90Q==');
  for (const size of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 65_537]) {
    const bytes = randomBytes(size);
    const library = new CRC32C();
    library.update(bytes);
    for (const cut of [0, 1, 3, size >> 1, size]) {
      const ours = new Crc32c().update(bytes.subarray(0, Math.min(cut, size))).update(bytes.subarray(Math.min(cut, size)));
      assert.equal(ours.toString(), library.toString(), `${size} bytes cut at ${cut}`);
      assert.ok(ours.validate(library.toString()));
    }
  }
  assert.equal(new Crc32c().update(Buffer.from('data')).validate('AAAAAA=='), false);
});
