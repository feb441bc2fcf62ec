/** How answers compare when case, spacing and Unicode form should not matter (normalised match, labels, tool-call values). */
export function normalizeAnswer(text: string): string {
  return text.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
}
