/** CRC32C (Castagnoli), as GCS reports it: the big-endian checksum, base64-encoded. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export class Crc32c {
  private value = 0xffffffff;

  update(bytes: Uint8Array): this {
    let c = this.value;
    for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    this.value = c;
    return this;
  }

  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.value ^ 0xffffffff) >>> 0);
    return out.toString('base64');
  }
}
