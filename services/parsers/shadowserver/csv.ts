// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shadowserver's CSV as IntelMQ reads it: Python's csv module with the "unix" dialect (comma,
 * double quotes, doubled quotes inside them, lenient), the first record naming the columns, and
 * each failed or parsed record rebuilt as IntelMQ's recover_line_csv_dict does: the header
 * written with every name quoted, then the record's text.
 */

const LF = 10, CR = 13, QUOTE = 34, COMMA = 44;

/** One record: its fields and where it is in the text. */
export interface CsvRecord {
  fields: string[];
  start: number;
  /** Just past the record's line terminator. */
  end: number;
}

/**
 * IntelMQ's line ending of a report: the one kind of line break it uses, "\r\n" when it uses
 * none or several (Python's StringIO(newline='').newlines).
 */
export function lineEnding(text: string): string {
  const hasCr = text.indexOf("\r") !== -1;
  if (!hasCr) return text.indexOf("\n") === -1 ? "\r\n" : "\n";
  let cr = false, lf = false, crlf = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === CR) {
      if (text.charCodeAt(i + 1) === LF) { crlf = true; i++; } else cr = true;
    } else if (c === LF) lf = true;
  }
  if (Number(cr) + Number(lf) + Number(crlf) !== 1) return "\r\n";
  return cr ? "\r" : lf ? "\n" : "\r\n";
}

function terminatorEnd(text: string, pos: number): number {
  return text.charCodeAt(pos) === CR && text.charCodeAt(pos + 1) === LF ? pos + 2 : pos + 1;
}

/** Where an unquoted run from `pos` ends: a comma, a line break or the end. */
function runEnd(text: string, pos: number): number {
  const n = text.length;
  let j = pos;
  for (; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c === COMMA || c === LF || c === CR) break;
  }
  return j;
}

/** The records of `text` from `pos` on; a blank line is a record without fields. */
export function* readRecords(text: string, pos = 0): Generator<CsvRecord> {
  const n = text.length;
  while (pos < n) {
    const c0 = text.charCodeAt(pos);
    if (c0 === LF || c0 === CR) {
      const end = terminatorEnd(text, pos);
      yield { fields: [], start: pos, end };
      pos = end;
      continue;
    }
    const fields: string[] = [];
    const start = pos;
    for (;;) {
      if (pos < n && text.charCodeAt(pos) === QUOTE) {
        let field = "";
        let seg = pos + 1;
        for (;;) {
          const q = text.indexOf('"', seg);
          if (q === -1) { field += text.slice(seg); pos = n; break; }
          field += text.slice(seg, q);
          if (text.charCodeAt(q + 1) === QUOTE) { field += '"'; seg = q + 2; continue; }
          pos = q + 1;
          break;
        }
        // after the closing quote, anything up to the next comma belongs to the field (lenient)
        const j = runEnd(text, pos);
        if (j > pos) { field += text.slice(pos, j); pos = j; }
        fields.push(field);
      } else {
        const j = runEnd(text, pos);
        fields.push(text.slice(pos, j));
        pos = j;
      }
      if (pos >= n) break;
      if (text.charCodeAt(pos) === COMMA) { pos++; continue; }
      pos = terminatorEnd(text, pos);
      break;
    }
    yield { fields, start, end: pos };
  }
}

/** The header line as Python's csv.DictWriter writes it with the unix dialect (every name quoted). */
export function quotedHeader(names: readonly string[]): string {
  return names.map((s) => '"' + s.replaceAll('"', '""') + '"').join(",");
}
