/** One record of a CSV text, with the (1-based) line it starts on. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * Parses CSV as RFC 4180 describes it: fields separated by commas, records by CRLF (a bare LF too); a field in
 * double quotes may hold commas, line breaks and quotes (doubled: `""`). Lenient where the RFC is strict and a
 * person's export may not be: text after a closing quote is kept, an unclosed quote runs to the end.
 */
export function parseCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let wasQuoted = false;
  let line = 1;
  let start = 1;
  const endCell = () => {
    cells.push(cell);
    cell = '';
    wasQuoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
        continue;
      }
      if (c === '\n') line++;
      cell += c;
      continue;
    }
    if (c === '"' && cell === '' && !wasQuoted) {
      quoted = wasQuoted = true;
    } else if (c === ',') {
      endCell();
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      endCell();
      out.push({ line: start, cells });
      cells = [];
      start = ++line;
    } else {
      cell += c;
    }
  }
  if (cell !== '' || wasQuoted || cells.length > 0) {
    endCell();
    out.push({ line: start, cells });
  }
  return out;
}

/**
 * A cell echoed back to the client (which may well open the report in a spreadsheet), neutralised against
 * formula injection as OWASP advises: one starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
 * leading apostrophe, so a spreadsheet shows it as text instead of running it.
 */
export function neutralise(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}
