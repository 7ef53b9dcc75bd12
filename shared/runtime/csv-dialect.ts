// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CSV reading and writing as Python's csv module does it, for any dialect (delimiter, quote
 * char, escape char, doubled quotes, initial spaces, quoting mode): the reader is _csv.c's state
 * machine run over the text, the writer its QUOTE_MINIMAL / ALL / NONNUMERIC / NONE rules.
 */

/** Python's csv dialect parameters (the subset feeds use); defaults are the "excel" dialect. */
export interface CsvDialect {
  delimiter?: string;
  quotechar?: string | null;
  escapechar?: string | null;
  doublequote?: boolean;
  skipinitialspace?: boolean;
  /** csv.QUOTE_MINIMAL 0, QUOTE_ALL 1, QUOTE_NONNUMERIC 2, QUOTE_NONE 3 */
  quoting?: 0 | 1 | 2 | 3;
  /** Unquoted line breaks and characters after a closing quote are errors (Python's strict). */
  strict?: boolean;
  lineterminator?: string;
}

export const QUOTE_MINIMAL = 0, QUOTE_ALL = 1, QUOTE_NONNUMERIC = 2, QUOTE_NONE = 3;

/** A record that Python's csv.reader rejects (strict mode, NUL): the message is Python's. */
export class CsvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "csv.Error";
  }
}

const S_START_RECORD = 0, S_START_FIELD = 1, S_ESCAPED = 2, S_IN_FIELD = 3, S_IN_QUOTED = 4,
  S_ESCAPE_IN_QUOTED = 5, S_QUOTE_IN_QUOTED = 6, S_EAT_CRNL = 7, S_AFTER_ESCAPED_CRNL = 8;

/** One record and the text it was read from (its lines, terminators included). */
export interface CsvRecord { fields: string[]; text: string }

/** The lines of a text as Python's StringIO(newline="") gives them: split after "\n", "\r\n" or "\r", terminators kept. */
export function* pyLinesKeepEnds(text: string): Generator<string> {
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) { yield text.slice(start, i + 1); start = i + 1; } else if (c === 13) {
      const end = i + 1 < n && text.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
      yield text.slice(start, end);
      start = end;
      i = end - 1;
    }
  }
  if (start < n) yield text.slice(start);
}

/**
 * Python's csv.reader over an iterable of lines (each with its terminator): one record per
 * call, possibly spanning lines (a quoted field with line breaks). An empty line gives [].
 * A record broken by the end of the text is given as far as it goes (Python's non-strict mode).
 */
export function* readCsv(lines: Iterable<string>, dialect: CsvDialect = {}): Generator<CsvRecord> {
  const delim = dialect.delimiter ?? ",";
  const quote = dialect.quotechar === undefined ? '"' : dialect.quotechar;
  const esc = dialect.escapechar ?? null;
  const dq = dialect.doublequote ?? true;
  const skipSpace = dialect.skipinitialspace ?? false;
  const quoting = dialect.quoting ?? QUOTE_MINIMAL;
  const strict = dialect.strict ?? false;
  const useQuote = quoting !== QUOTE_NONE && quote !== null;
  let state = S_START_RECORD;
  let fields: string[] = [];
  let field = "";
  let fieldLen = 0;
  let text = "";
  const save = () => { fields.push(field); field = ""; fieldLen = 0; };
  const add = (c: string) => { field += c; fieldLen++; };
  const eol = () => {
    switch (state) {
      case S_START_RECORD: case S_EAT_CRNL: state = S_START_RECORD; break;
      case S_START_FIELD: case S_IN_FIELD: case S_QUOTE_IN_QUOTED: save(); state = S_START_RECORD; break;
      case S_ESCAPED: add("\n"); state = S_IN_FIELD; break;
      case S_ESCAPE_IN_QUOTED: add("\n"); state = S_IN_QUOTED; break;
      default: break; // in a quoted field, or after an escaped line break: the record goes on
    }
  };
  const char = (c: string) => {
    if (state === S_START_RECORD) {
      if (c === "\n" || c === "\r") { state = S_EAT_CRNL; return; }
      state = S_START_FIELD;
    } else if (state === S_AFTER_ESCAPED_CRNL) state = S_IN_FIELD;
    switch (state) {
      case S_START_FIELD:
        if (c === "\n" || c === "\r") { save(); state = S_EAT_CRNL; } else if (useQuote && c === quote) state = S_IN_QUOTED;
        else if (c === esc) state = S_ESCAPED;
        else if (c === " " && skipSpace) { /* ignored */ } else if (c === delim) save();
        else { add(c); state = S_IN_FIELD; }
        return;
      case S_ESCAPED:
        if (c === "\n" || c === "\r") { add(c); state = S_AFTER_ESCAPED_CRNL; return; }
        add(c); state = S_IN_FIELD; return;
      case S_IN_FIELD:
        if (c === "\n" || c === "\r") { save(); state = S_EAT_CRNL; } else if (c === esc) state = S_ESCAPED;
        else if (c === delim) { save(); state = S_START_FIELD; } else add(c);
        return;
      case S_IN_QUOTED:
        if (c === esc) state = S_ESCAPE_IN_QUOTED;
        else if (c === quote) state = dq ? S_QUOTE_IN_QUOTED : S_IN_FIELD;
        else add(c);
        return;
      case S_ESCAPE_IN_QUOTED:
        add(c); state = S_IN_QUOTED; return;
      case S_QUOTE_IN_QUOTED:
        if (useQuote && c === quote) { add(c); state = S_IN_QUOTED; } else if (c === delim) { save(); state = S_START_FIELD; } else if (c === "\n" || c === "\r") { save(); state = S_EAT_CRNL; } else if (!strict) { add(c); state = S_IN_FIELD; } else throw new CsvError(`'${delim}' expected after '${quote}'`);
        return;
      case S_EAT_CRNL:
        if (c === "\n" || c === "\r") return;
        throw new CsvError("new-line character seen in unquoted field - do you need to open the file with newline=''?");
    }
  };
  for (const line of lines) {
    text += line;
    for (const c of line) {
      if (c === "\0") throw new CsvError("line contains NUL");
      char(c);
    }
    eol();
    if (state === S_START_RECORD) {
      yield { fields, text };
      fields = []; text = "";
    }
  }
  if (fieldLen !== 0 || state === S_IN_QUOTED) {
    if (strict) throw new CsvError("unexpected end of data");
    save();
    yield { fields, text };
  }
}

/** Python's csv.writer row for a dialect (default: excel, QUOTE_MINIMAL, "\r\n"), with its terminator. */
export function writeCsvRow(row: readonly unknown[], dialect: CsvDialect = {}): string {
  const delim = dialect.delimiter ?? ",";
  const quote = dialect.quotechar === undefined ? '"' : dialect.quotechar;
  const esc = dialect.escapechar ?? null;
  const dq = dialect.doublequote ?? true;
  const quoting = dialect.quoting ?? QUOTE_MINIMAL;
  const term = dialect.lineterminator ?? "\r\n";
  if (row.length === 1 && (row[0] === "" || row[0] === null || row[0] === undefined) && quoting !== QUOTE_NONE) {
    return `${quote ?? ""}${quote ?? ""}${term}`;
  }
  const out: string[] = [];
  for (const v of row) {
    const isNum = typeof v === "number" || typeof v === "bigint" || typeof v === "boolean";
    const s = v === null || v === undefined ? "" : typeof v === "string" ? v : typeof v === "boolean" ? (v ? "True" : "False") : String(v);
    let quoted = quoting === QUOTE_ALL || (quoting === QUOTE_NONNUMERIC && !isNum);
    let body = "";
    for (const c of s) {
      const special = c === delim || c === esc || c === quote || c === "\n" || c === "\r" || term.includes(c);
      if (!special) { body += c; continue; }
      let escape = false;
      if (quoting === QUOTE_NONE) escape = true;
      else if (c === quote) { if (dq) body += quote; else escape = true; } else if (c === esc) escape = true;
      if (!escape) quoted = true;
      if (escape) {
        if (esc === null) throw new CsvError("need to escape, but no escapechar set");
        body += esc;
      }
      body += c;
    }
    out.push(quoted && quote !== null ? quote + body + quote : body);
  }
  return out.join(delim) + term;
}

/**
 * The line ending Python's StringIO(newline='') reports for a text: the one kind used, or "\r\n"
 * when there is none or more than one kind (IntelMQ's `_get_io_and_save_line_ending`).
 */
export function pyLineEnding(text: string): string {
  let cr = false, lf = false, crlf = false;
  for (let i = text.indexOf("\r") === -1 ? text.indexOf("\n") : 0; i !== -1 && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) { crlf = true; i++; } else cr = true;
    } else if (c === 10) lf = true;
  }
  if ((cr ? 1 : 0) + (lf ? 1 : 0) + (crlf ? 1 : 0) !== 1) return "\r\n";
  return cr ? "\r" : lf ? "\n" : "\r\n";
}
