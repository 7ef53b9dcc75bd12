// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Report formats parsers share, as IntelMQ's ParserBot reads them: CSV with a header row (each
 * record a dict of column -> value, its raw the header and the record written back), a report
 * holding one JSON document or a list, JSON lines and JSON streams (one value after another).
 * JSON is read as Python reads it (pyjson.ts): written back with pyDumpsLoaded(), a float stays a
 * float. A record that cannot be read fails alone; a report that is not in the format at all fails
 * whole, with a DecodingError naming the parser and the problem (the runtime dumps it).
 */
import { DecodingError } from "../errors/index.js";
import { pyStrip } from "../harmonization/index.js";
import type { Report } from "../message/index.js";
import { CsvError, pyLineEnding, pyLinesKeepEnds, readCsv, writeCsvRow, type CsvDialect } from "./csv-dialect.js";
import { rawLines, reportText, skipLine, type SkippedLine } from "./parser-driver.js";
import { pyDumpsLoaded, pyJsonLoads } from "./pyjson.js";

// ---------------------------------------------------------------- CSV with a header row

/** One record of a CSV report with a header row (IntelMQ's parse_csv_dict). */
export interface CsvDictRow {
  /** Column name -> value; a column the record is too short for is undefined (Python's restval None). */
  readonly values: Readonly<Record<string, string | undefined>>;
  /** Fields beyond the header's columns (Python's restkey), usually none. */
  readonly rest: readonly string[];
  /** The header's column names. */
  readonly header: readonly string[];
  /**
   * The header and this record written back in the report's dialect and line ending, stripped
   * (IntelMQ's recover_line_csv_dict): the event's raw and what a dump of the record holds.
   */
  readonly raw: string;
  /**
   * The header and the record as the report has it (its own quoting), stripped: what IntelMQ
   * dumps for a record that failed.
   */
  readonly original: string;
}

export interface CsvDictOptions {
  /** Python csv dialect parameters (IntelMQ's `_csv_params`). */
  dialect?: CsvDialect;
  /** Lines starting with one of these are left out before the CSV is read (IntelMQ's `_ignore_lines_starting`). */
  ignoreLinesStarting?: readonly string[];
  /** Column names when the report has no header row (the first record is then data). */
  fieldnames?: readonly string[];
  /** The parser's name, for the error of a report that is no CSV at all. */
  parser?: string;
}

/**
 * The records of a CSV report with a header row, as Python's csv.DictReader reads them after
 * IntelMQ's clean-up (report stripped, NULs removed). The header, empty records and ignored
 * lines are yielded as declared skips. Text that Python's csv module rejects fails the report.
 */
export function* csvDictRows(report: Report, opts: CsvDictOptions = {}): Generator<CsvDictRow | SkippedLine> {
  let text = pyStrip(reportText(report));
  if (text.includes("\0")) text = text.replaceAll("\0", "");
  if (text === "") return;
  const lineEnding = pyLineEnding(text);
  const dialect: CsvDialect = { ...opts.dialect, lineterminator: lineEnding };
  const ignore = opts.ignoreLinesStarting ?? [];
  const ignored: string[] = [];
  function* kept(): Generator<string> {
    for (const line of pyLinesKeepEnds(text)) {
      if (ignore.some((pre) => line.startsWith(pre))) ignored.push(line.replace(/[\r\n]+$/, ""));
      else yield line;
    }
  }
  let header: string[] | null = opts.fieldnames ? [...opts.fieldnames] : null;
  let headerText = header ? stripEnd(writeCsvRow(header, dialect)) : "";
  try {
    for (const rec of readCsv(kept(), dialect)) {
      while (ignored.length) yield skipLine(ignored.shift()!, "ignored start of line");
      const line = stripEnd(rec.text);
      if (header === null) {
        header = rec.fields;
        headerText = stripEnd(writeCsvRow(header, dialect));
        yield skipLine(line, "CSV header");
        continue;
      }
      if (rec.fields.length === 0) { yield skipLine(line, "empty line"); continue; }
      const values: Record<string, string | undefined> = {};
      header.forEach((name, i) => { values[name] = rec.fields[i]; });
      const rest = rec.fields.slice(header.length);
      // a record longer than the header is written back whole (IntelMQ cannot write it back at all)
      const row = rest.length ? rec.fields : header.map((name) => values[name] ?? "");
      const raw = pyStrip(headerText + lineEnding + writeCsvRow(row, dialect));
      yield { values, rest, header, raw, original: pyStrip(headerText + lineEnding + rec.text) };
    }
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    throw new DecodingError(`${opts.parser ? `${opts.parser}: ` : ""}the report is not readable as CSV: ${err.message}`, { cause: err });
  }
  while (ignored.length) yield skipLine(ignored.shift()!, "ignored start of line");
}

const stripEnd = (s: string) => s.replace(/[\r\n]+$/, "");

// ---------------------------------------------------------------- JSON

/** A report's problem, naming the parser. */
function notFormat(parser: string, problem: string, cause?: unknown): DecodingError {
  return new DecodingError(`${parser}: ${problem}`, { cause });
}

/** The short description of a JSON value's type, for error messages. */
export function jsonKind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * The one JSON document a report holds (Python's json.loads of the decoded raw); a report that
 * is not JSON fails whole with a DecodingError naming the parser.
 */
export function reportJson(report: Report, parser: string): unknown {
  const text = reportText(report);
  try {
    return pyJsonLoads(text);
  } catch (err) {
    const why = text.trim() === "" ? "the report is empty" : `the report is not JSON (${(err as Error).message})`;
    throw notFormat(parser, why, err);
  }
}

export interface JsonListOptions {
  /** An object holding the list under this key is taken too (e.g. {"data": [...]}). */
  key?: string;
  /** An empty report gives no items instead of failing. */
  allowEmpty?: boolean;
}

/**
 * The items of a report holding a JSON list (IntelMQ's parse_json). A report that is not JSON,
 * or whose document is no list, fails whole with a DecodingError naming the parser.
 */
export function* jsonListItems(report: Report, parser: string, opts: JsonListOptions = {}): Generator<unknown | SkippedLine> {
  if (opts.allowEmpty && reportText(report).trim() === "") return;
  let doc = reportJson(report, parser);
  if (opts.key !== undefined && doc !== null && typeof doc === "object" && !Array.isArray(doc) && opts.key in doc) {
    doc = (doc as Record<string, unknown>)[opts.key];
  }
  if (!Array.isArray(doc)) {
    throw notFormat(parser, `the report holds ${jsonKind(doc)} where a JSON list${opts.key ? ` (or an object with "${opts.key}")` : ""} was expected`);
  }
  for (const item of doc) {
    // as IntelMQ's parser loop, an item Python takes for false (null, 0, "", [], {}) is no record
    if (pyFalsy(item)) yield skipLine(pyDumpsLoaded(item), "an empty item");
    else yield item;
  }
}

/** Python's bool() of a JSON value is false. */
function pyFalsy(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v).length === 0;
}

/** IntelMQ's recover_line_json: the item alone in a list, as Python's json.dumps writes it. */
export function jsonRecover(item: unknown): string {
  return pyDumpsLoaded([item]);
}

/** One JSON value of a JSON-lines report or a JSON stream: its text and the value, or why it is none. */
export interface JsonText {
  readonly text: string;
  readonly value?: unknown;
  /** Set when the text is not JSON. */
  readonly error?: string;
}

function parsed(text: string): JsonText {
  try {
    return { text, value: pyJsonLoads(text) };
  } catch (err) {
    return { text, error: (err as Error).message };
  }
}

/**
 * The value of a JSON text, for parseLine(): a text that is not JSON fails its line (alone)
 * with a DecodingError; `expect: "object"` fails anything but an object.
 */
export function jsonValue(item: JsonText, expect?: "object"): unknown {
  if (item.error !== undefined) throw new DecodingError(`not JSON (${item.error})`, { object: item.text });
  if (expect === "object" && (item.value === null || typeof item.value !== "object" || Array.isArray(item.value))) {
    throw new DecodingError(`${jsonKind(item.value)} where a JSON object was expected`, { object: item.text });
  }
  return item.value;
}

/** The non-blank lines of a JSON-lines report (Python's splitlines), each with its value or its error. */
export function* jsonLines(report: Report): Generator<JsonText> {
  for (const line of rawLines(report)) if (line.trim() !== "") yield parsed(line);
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/**
 * The values of a JSON stream: JSON values one after another, separated by whitespace or
 * nothing (`{...}{...}`, or pretty-printed objects). An object or list runs to its matching
 * bracket; anything else to the end of its line. Text that is not JSON becomes an item with its
 * error, and reading goes on after it.
 */
export function* jsonStream(report: Report): Generator<JsonText> {
  const text = reportText(report);
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && WS.has(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    const open = text[i];
    if (open === "{" || open === "[") {
      let depth = 0;
      let inString = false;
      for (; i < n; i++) {
        const c = text[i];
        if (inString) {
          if (c === "\\") i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") {
          depth--;
          if (depth === 0) { i++; break; }
        }
      }
    } else {
      while (i < n && text[i] !== "\n" && text[i] !== "\r") i++;
    }
    const chunk = text.slice(start, Math.min(i, n));
    yield parsed(chunk.trim());
  }
}
