/**
 * What a file that is not UTF-8 text most likely is, from its first bytes, so the refusal names
 * it and says what to do instead of "it contains NUL bytes". Signatures: ZIP (PK\x03\x04: .xlsx,
 * .docx, .zip), Parquet (the "PAR1" magic), the legacy Excel .xls (OLE2: d0 cf 11 e0). gzip and
 * UTF-16 are not refused: decode-input.ts reads them.
 */
/** Parquet's "PAR1" magic: what the pipeline reads by range, and what it names when it cannot. */
export function isParquet(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31;
}

export function describeBinaryInput(head: Uint8Array, fileName: string): string | null {
  const starts = (...bytes: number[]) => bytes.every((byte, index) => head[index] === byte);
  const name = fileName.toLowerCase();
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    if (name.endsWith('.xlsx') || name.endsWith('.xlsm'))
      return 'the file is an Excel workbook (.xlsx): export the sheet as CSV (File → Save As → CSV UTF-8) and convert that';
    return 'the file is a ZIP archive (or an Office document): unpack it, or export it as CSV or JSONL, and convert that';
  }
  if (starts(0xd0, 0xcf, 0x11, 0xe0))
    return 'the file is a legacy Excel/Office document (.xls): export the sheet as CSV UTF-8 and convert that';
  if (isParquet(head))
    return 'the file is Parquet (Hugging Face\'s dataset format): export it as JSON Lines (e.g. pandas.read_parquet(f).to_json(out, orient="records", lines=True)) and convert that';
  return null;
}
