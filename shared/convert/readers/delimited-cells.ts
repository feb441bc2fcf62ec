/**
 * The cells of one framed CSV/TSV record, when the record is plain RFC 4180: fields either
 * unquoted (no quote anywhere in them) or wholly quoted (`""` inside for a quote, the closing
 * quote followed by the delimiter or the record's end). For those records csv-parse, with the
 * options readDelimited gives it, yields exactly these cells (a property test compares the two on
 * random records); anything else returns null and is left to csv-parse, whose messages name
 * what is wrong. Found with indexOf, not a character at a time: several times csv-parse's speed.
 */
export function plainRecordCells(text: string, delimiter: string): string[] | null {
  const cells: string[] = [];
  let at = 0;
  for (;;) {
    if (text.charCodeAt(at) === QUOTE) {
      let value = '';
      let from = at + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) return null;
        if (text.charCodeAt(quote + 1) === QUOTE) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        at = quote + 1;
        break;
      }
      cells.push(value);
      if (at === text.length) return cells;
      if (text[at] !== delimiter) return null;
      at += 1;
      continue;
    }
    const end = text.indexOf(delimiter, at);
    const field = end === -1 ? text.slice(at) : text.slice(at, end);
    if (field.includes('"')) return null;
    cells.push(field);
    if (end === -1) return cells;
    at = end + 1;
  }
}

const QUOTE = 0x22;
