import type { CRC32CValidator, CRC32CValidatorGenerator } from '@google-cloud/storage';

/**
 * CRC32C (Castagnoli), the checksum Cloud Storage keeps for every object, eight bytes a step
 * ("slicing-by-8", eight 256-entry tables). The client library's own validator takes one byte a
 * step through an iterator: on a converter function's single CPU, checking a download and an
 * upload cost about 0.7 s per 30 MB (bench/converter-function.ts); this does the same in a
 * fraction. The value is the same CRC32C (tested against the library's and known vectors).
 */
const TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) {
      const previous = tables[(t - 1) * 256 + n]!;
      tables[t * 256 + n] = tables[previous & 0xff]! ^ (previous >>> 8);
    }
  }
  return tables;
})();

/** The running CRC32C of the bytes given so far; as GCS reports it, big-endian and base64. */
export class Crc32c implements CRC32CValidator {
  private crc = 0;

  update(bytes: Uint8Array): this {
    let c = ~this.crc;
    let i = 0;
    const end8 = bytes.length - (bytes.length % 8);
    for (; i < end8; i += 8) {
      const low = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
      c =
        TABLES[7 * 256 + (low & 0xff)]! ^
        TABLES[6 * 256 + ((low >>> 8) & 0xff)]! ^
        TABLES[5 * 256 + ((low >>> 16) & 0xff)]! ^
        TABLES[4 * 256 + (low >>> 24)]! ^
        TABLES[3 * 256 + bytes[i + 4]!]! ^
        TABLES[2 * 256 + bytes[i + 5]!]! ^
        TABLES[256 + bytes[i + 6]!]! ^
        TABLES[bytes[i + 7]!]!;
    }
    for (; i < bytes.length; i++) c = TABLES[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = ~c;
    return this;
  }

  /** The checksum as an unsigned 32-bit number. */
  value(): number {
    return this.crc >>> 0;
  }

  toString(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value());
    return out.toString('base64');
  }

  validate(expected: string): boolean {
    return expected === this.toString();
  }
}

/** For `new Storage({ crc32cGenerator })`: every download and upload the client checks uses Crc32c. */
export const crc32cGenerator: CRC32CValidatorGenerator = () => new Crc32c();
