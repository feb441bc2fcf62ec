/**
 * What a file that is not UTF-8 text most likely is, from its first bytes, so the refusal names
 * it and says what to do instead of "it contains NUL bytes". Signatures: gzip (RFC 1952: 1f 8b),
 * ZIP (PK\x03\x04: .xlsx, .docx, .zip), Parquet (the "PAR1" magic), UTF-16 (a byte-order mark,
 * or every other byte NUL in ASCII-range text), the legacy Excel .xls (OLE2: d0 cf 11 e0).
 */
export function describeBinaryInput(head: Uint8Array, fileName: string): string | null {
  const starts = (...bytes: number[]) => bytes.every((byte, index) => head[index] === byte);
  const name = fileName.toLowerCase();
  if (starts(0x1f, 0x8b)) return 'the file is gzip-compressed: decompress it first (gunzip) and convert the .jsonl/.csv inside';
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    if (name.endsWith('.xlsx') || name.endsWith('.xlsm')) return 'the file is an Excel workbook (.xlsx): export the sheet as CSV (File → Save As → CSV UTF-8) and convert that';
    return 'the file is a ZIP archive (or an Office document): unpack it, or export it as CSV or JSONL, and convert that';
  }
  if (starts(0xd0, 0xcf, 0x11, 0xe0)) return 'the file is a legacy Excel/Office document (.xls): export the sheet as CSV UTF-8 and convert that';
  if (starts(0x50, 0x41, 0x52, 0x31)) return 'the file is Parquet (Hugging Face\'s dataset format): export it as JSON Lines (e.g. pandas.read_parquet(f).to_json(out, orient="records", lines=True)) and convert that';
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff) || looksUtf16(head)) {
    return 'the file is UTF-16 text: save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 in > out, or "CSV UTF-8" in Excel) and convert that';
  }
  return null;
}

/** ASCII-range text in UTF-16: one byte of each pair NUL, for most pairs. */
function looksUtf16(head: Uint8Array): boolean {
  const pairs = Math.floor(Math.min(head.length, 512) / 2);
  if (pairs < 4) return false;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) evenNul += 1;
    if (head[2 * i + 1] === 0) oddNul += 1;
  }
  return Math.max(evenNul, oddNul) > pairs * 0.6 && Math.min(evenNul, oddNul) < pairs * 0.1;
}
