// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CSV reading and writing with the semantics of Python's csv module (excel dialect,
 * QUOTE_MINIMAL, non-strict), which IntelMQ's generic CSV parser relies on. Written as
 * char-code state machines over the whole text: no regular expressions per character.
 */

const LF = 10, CR = 13, TAB = 9, SPACE = 32, HASH = 35;

/**
 * IntelMQ's clean-up before parsing: NUL removed, lines whose first non-blank char is '#'
 * removed, leading spaces/tabs of every line removed, blank lines (spaces/tabs only) removed.
 * A line is split at "\n" only, as Python's multi-line `^` matches after "\n".
 */
export function cleanReport(text: string, atLineStart = true): string {
  if (text.indexOf("\0") !== -1) text = text.split("\0").join("");
  if (!atLineStart) {
    // A window of a report that begins inside a line: that line's rest is not a line start.
    const nl = text.indexOf("\n");
    return nl === -1 ? text : text.slice(0, nl + 1) + cleanReport(text.slice(nl + 1));
  }
  const n = text.length;
  // fast path: nothing to remove (no leading blank, no comment, no blank line)
  let dirty = false;
  for (let start = 0; start < n;) {
    const c = text.charCodeAt(start);
    if (c === SPACE || c === TAB || c === HASH || c === LF) { dirty = true; break; }
    const nl = text.indexOf("\n", start);
    if (nl === -1) break;
    start = nl + 1;
  }
  if (!dirty) return text;
  const parts: string[] = [];
  let start = 0;
  while (start < n) {
    const nl = text.indexOf("\n", start);
    const end = nl === -1 ? n : nl + 1; // end includes the "\n"
    let i = start;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c !== SPACE && c !== TAB) break;
      i++;
    }
    if (i < end) {
      const c = text.charCodeAt(i);
      if (c !== HASH && c !== LF) parts.push(text.slice(i, end));
    }
    start = end;
  }
  return parts.join("");
}

/** The comment lines cleanReport() removes (first non-blank char '#'), without their line break. */
export function commentLines(text: string, atLineStart = true): string[] {
  const out: string[] = [];
  if (text.indexOf("#") === -1) return out;
  const lines = text.split("\0").join("").split("\n");
  if (!atLineStart) lines.shift();
  for (const line of lines) {
    const t = line.replace(/^[ \t]+/, "");
    if (t.startsWith("#")) out.push(t.replace(/\r$/, ""));
  }
  return out;
}

/**
 * The line ending Python's StringIO(newline='') reports for the text: the one kind used, or
 * "\r\n" when there is none or more than one kind (IntelMQ's `_get_io_and_save_line_ending`).
 */
export function detectLineEnding(text: string): string {
  return lineEndingOf(lineEndingKinds(text));
}

const K_CR = 1, K_LF = 2, K_CRLF = 4;

/** The kinds of line ending in the text, as bits; those of a report's windows are OR-ed (no window ends between "\r" and "\n"). */
export function lineEndingKinds(text: string): number {
  let i = text.indexOf("\r");
  if (i === -1) return text.indexOf("\n") === -1 ? 0 : K_LF;
  let kinds = 0;
  const n = text.length;
  for (i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === CR) {
      if (i + 1 < n && text.charCodeAt(i + 1) === LF) { kinds |= K_CRLF; i++; } else kinds |= K_CR;
    } else if (c === LF) kinds |= K_LF;
  }
  return kinds;
}

/** detectLineEnding() of the kinds found: the one kind used, else "\r\n". */
export function lineEndingOf(kinds: number): string {
  return kinds === K_CR ? "\r" : kinds === K_LF ? "\n" : "\r\n";
}

/** Index just past the line starting at `pos` (its terminator "\n", "\r\n" or "\r" included). */
export function lineEnd(text: string, pos: number): number {
  const n = text.length;
  for (let i = pos; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === LF) return i + 1;
    if (c === CR) return i + 1 < n && text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
  }
  return n;
}

/**
 * Iterates records from `pos` on, as Python's csv.reader over lines (newline=''): a record
 * ends at a line terminator outside quotes; an empty line gives an empty record. `span`, when
 * given, holds where the record just yielded starts and ends (after its line terminator).
 */
export function* readRecords(text: string, delimiter: string, pos = 0, span?: { start: number; end: number }): Generator<string[]> {
  const n = text.length;
  const d = delimiter.length === 1 ? delimiter.charCodeAt(0) : -1;
  const QUOTE = 34;
  // Where the next quote and carriage return are (n: none): a record before both, ended by a
  // line feed or the end, is split at its delimiters by indexOf, which scans natively. Most
  // feeds' records are such; the loop below reads the others character by character.
  let nextQuote = -1, nextCR = -1;
  const byIndex = d !== -1 && d !== QUOTE && d !== LF && d !== CR;
  while (pos < n) {
    const row: string[] = [];
    if (span) span.start = pos;
    let c = text.charCodeAt(pos);
    if (c === LF || c === CR) { // empty line
      pos = c === CR && pos + 1 < n && text.charCodeAt(pos + 1) === LF ? pos + 2 : pos + 1;
      if (span) span.end = pos;
      yield row;
      continue;
    }
    if (byIndex) {
      if (nextQuote < pos) { nextQuote = text.indexOf('"', pos); if (nextQuote === -1) nextQuote = n; }
      if (nextCR < pos) { nextCR = text.indexOf("\r", pos); if (nextCR === -1) nextCR = n; }
      const lf = text.indexOf("\n", pos);
      const end = lf === -1 ? n : lf;
      if (nextQuote >= end && nextCR >= end) {
        for (let p = pos; ;) {
          const j = text.indexOf(delimiter, p);
          if (j === -1 || j >= end) { row[row.length] = text.slice(p, end); break; }
          row[row.length] = text.slice(p, j);
          p = j + 1;
        }
        pos = lf === -1 ? n : lf + 1;
        if (span) span.end = pos;
        yield row;
        continue;
      }
    }
    // one record: fields until an unquoted line terminator or the end
    for (;;) {
      if (pos >= n) { row.push(""); break; }
      c = text.charCodeAt(pos);
      if (c === QUOTE) {
        // quoted field: doubled quotes are one quote; after the closing quote, other chars
        // are appended as in an unquoted field (non-strict)
        let field = "";
        let segStart = pos + 1;
        let i = segStart;
        let closed = false;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) { field += text.slice(segStart); pos = n; break; }
          if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) { field += text.slice(segStart, q + 1); i = segStart = q + 2; continue; }
          field += text.slice(segStart, q);
          pos = q + 1;
          closed = true;
          break;
        }
        if (closed) {
          // rest of an unquoted tail up to delimiter/terminator
          const j = fieldEnd(text, pos, d);
          if (j > pos) field += text.slice(pos, j);
          pos = j;
        }
        row.push(field);
      } else {
        const j = fieldEnd(text, pos, d);
        row.push(text.slice(pos, j));
        pos = j;
      }
      if (pos >= n) break;
      c = text.charCodeAt(pos);
      if (c === d) {
        pos++;
        if (pos >= n) { row.push(""); break; }
        const c2 = text.charCodeAt(pos);
        if (c2 === LF || c2 === CR) { row.push(""); pos = skipTerminator(text, pos); break; }
        continue;
      }
      // line terminator
      pos = skipTerminator(text, pos);
      break;
    }
    if (span) span.end = pos;
    yield row;
  }
}

/** Where an unquoted run starting at `pos` ends: the next delimiter `d`, line break or the end. */
function fieldEnd(text: string, pos: number, d: number): number {
  const n = text.length;
  let j = pos;
  while (j < n) {
    const cc = text.charCodeAt(j);
    if (cc === d || cc === LF || cc === CR) break;
    j++;
  }
  return j;
}

function skipTerminator(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  if (c === CR) return pos + 1 < text.length && text.charCodeAt(pos + 1) === LF ? pos + 2 : pos + 1;
  return pos + 1;
}

/** One row as Python's csv.writer writes it (QUOTE_MINIMAL, doublequote), with the terminator. */
export function writeRow(row: readonly unknown[], delimiter: string, terminator: string): string {
  if (row.length === 1 && (row[0] === "" || row[0] === null || row[0] === undefined)) return '""' + terminator;
  let out = "";
  for (let k = 0; k < row.length; k++) {
    if (k > 0) out += delimiter;
    const v = row[k];
    const s = v === null || v === undefined ? "" : typeof v === "string" ? v : String(v);
    out += needsQuotes(s, delimiter) ? '"' + s.replaceAll('"', '""') + '"' : s;
  }
  return out + terminator;
}

function needsQuotes(s: string, delimiter: string): boolean {
  if (s.indexOf(delimiter) !== -1) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === LF || c === CR) return true;
  }
  return false;
}
