/** CSV for the gradebook: RFC 4180 writing (with formula neutralising) and reading. */

/** A cell a spreadsheet would run as a formula (= + - @, or a leading tab or carriage return) gets a leading apostrophe. */
export function neutralise(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

/** One field, RFC 4180: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
export function field(cell: string): string {
  const safe = neutralise(cell);
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Rows as CSV, CRLF line ends (RFC 4180). Numbers are written as they are (a negative number is data, not a formula). */
export function toCsv(rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return rows.map((r) => r.map((c) => (c === null ? '' : typeof c === 'number' ? String(c) : field(c))).join(',')).join('\r\n') + '\r\n';
}

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses RFC 4180 CSV (CRLF or LF); answers rows with the line each starts on. Throws CsvError on an unterminated quote. */
export function parseCsv(text: string): Array<{ line: number; cells: string[] }> {
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  const endRow = () => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: start, cells });
    cells = [];
    cell = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      i++;
      endRow();
      start = ++line;
    } else if (ch === '\n') {
      endRow();
      start = ++line;
    } else cell += ch;
    i++;
  }
  if (quoted) throw new CsvError(start, 'a quoted field is not closed');
  if (cell !== '' || cells.length > 0) endRow();
  return rows;
}
