// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Generic CSV parser: maps the columns of any CSV feed to harmonization fields
 * (IntelMQ's intelmq.bots.parsers.generic.parser_csv).
 */
import { z } from "zod";
import {
  ConfigurationError, InvalidArgument, InvalidValue, LineError, defineParser, excerpt, isLargeRaw, overWindows, p, parserParams, pyRegex, reportWindows, skipLine,
  type BotContext, type Event, type RawWindow, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";
import { cleanReport, commentLines, detectLineEnding, lineEnd, lineEndingKinds, lineEndingOf, readRecords, writeRow } from "./csv.js";
import { timeConverter, type TimeConverter } from "./time.js";

/** A list given as a list or a comma-separated string; entries stripped, empty entries kept (they mean "ignore"). */
const columnList = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()) : v),
  z.array(z.string()),
);
/**
 * A JSON object given as an object or as JSON text; "" and null mean none. A list of objects
 * (as some feeds.yaml entries write it) is merged into one.
 */
const jsonObject = <T extends z.ZodType>(value: T) => z.preprocess((v) => {
  if (typeof v === "string") v = v.trim() === "" ? null : JSON.parse(v);
  if (Array.isArray(v) && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) return Object.assign({}, ...v);
  return v;
}, z.record(z.string(), value).nullable());

export const params = z.object({
  ...parserParams,
  columns: columnList.nullable().default(null)
    .describe("Harmonization field of each column, as a list or comma-separated; `__IGNORE__` or an empty entry skips a column, `a|b` tries a then b, extra.* allowed"),
  column_regex_search: jsonObject(z.string()).default(null)
    .describe("Field -> regular expression; the first match replaces the value (no match: no value)"),
  compose_fields: jsonObject(z.string()).default(null)
    .describe("Field -> Python format string over the row's columns, e.g. {\"source.url\": \"http://{0}{1}\"}"),
  columns_required: z.preprocess((v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()) : v), z.array(p.bool())).nullable().default(null)
    .describe("Per column: whether a value that cannot be added fails the line (default: all true)"),
  data_type: jsonObject(z.enum(["json"])).default(null)
    .describe("Field -> conversion applied before adding; only \"json\" (JSON-decode the value)"),
  default_url_protocol: z.string().default("http://").describe("Prefix for *.url values without \"://\""),
  delimiter: z.string().default(",").describe("Column delimiter (one character)"),
  filter_text: z.string().nullable().default(null).describe("Text to look for in each line (with filter_type)"),
  filter_type: z.string().nullable().default(null).describe("\"whitelist\": keep only lines containing filter_text; \"blacklist\": drop them"),
  skip_header: z.union([p.int(), p.bool()]).default(false).transform((v) => Number(v))
    .describe("Skip the first line (true) or the first N lines; they are kept in each event's raw"),
  time_format: z.string().nullable().default(null)
    .describe("Conversion of time.source/time.destination: timestamp, windows_nt, epoch_millis, utc_isoformat, fuzzy, from_format|<strptime>, from_format_midnight|<strptime>; null: fuzzy"),
  type: z.string().nullable().default(null).describe("classification.type of every event (unless a column sets it)"),
  type_translation: jsonObject(z.string()).default(null)
    .describe("Value of the classification.type column -> classification.type (JSON object or text)"),
}).strict();

export type Params = z.infer<typeof params>;

const KIND_PLAIN = 0, KIND_TIME = 1, KIND_URL = 2, KIND_TYPE = 3;
interface KeySpec { key: string; ignore: boolean; regex: RegExp | null; json: boolean; kind: number }
interface ColumnSpec { keys: KeySpec[]; required: boolean }
/** Per-report state that recoverLine needs (header lines, line ending). */
interface ReportState { prefix: string; lineEnding: string }
/** Where reading a report's windows is: its ReportState once the first window was read, the unfinished record, the line ending when known before. */
interface ReadState { state: ReportState | null; carry: string; atStart: boolean; ending: string | null }

/** One parsed CSV record with the state of the report it came from. */
class CsvRow {
  /** `line`: the record's text without its line ending where it is what recover() writes, else null. */
  constructor(readonly fields: string[], readonly state: ReportState, readonly line: string | null = null) {}
}

/** A compiled Python `str.format` over positional arguments ({0}, {}, {{ and }}). */
function compileFormat(fmt: string): (args: readonly string[]) => string {
  const parts: (string | number)[] = [];
  let lit = "";
  let auto = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c === "{") {
      if (fmt[i + 1] === "{") { lit += "{"; i++; continue; }
      const close = fmt.indexOf("}", i);
      if (close === -1) throw new InvalidArgument("compose_fields", fmt, "a Python format string");
      const name = fmt.slice(i + 1, close).split(/[!:]/)[0]!;
      if (lit) { parts.push(lit); lit = ""; }
      parts.push(name === "" ? auto++ : Number(name));
      if (Number.isNaN(parts[parts.length - 1])) throw new InvalidArgument("compose_fields", fmt, "positional fields such as {0}");
      i = close;
    } else if (c === "}") {
      if (fmt[i + 1] === "}") i++;
      lit += "}";
    } else lit += c;
  }
  if (lit) parts.push(lit);
  return (args) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") out += part;
      else {
        if (part >= args.length) throw new RangeError("Replacement index " + part + " out of range for positional args tuple");
        out += args[part];
      }
    }
    return out;
  };
}

const NO_RAISE = { raiseFailure: false } as const;
const NO_OVERWRITE = { overwrite: false } as const;

/** IntelMQ decodes the report ignoring undecodable bytes. */
const DROP_INVALID = { invalid: "drop" } as const;

function create(prm: Params, ctx: BotContext) {
  if (!prm.columns || prm.columns.length === 0) throw new ConfigurationError("generic_csv", "parameter 'columns' is required");
  const columns = prm.columns;
  if (prm.delimiter.length !== 1) throw new InvalidArgument("delimiter", prm.delimiter, "a 1-character string");
  const delimiter = prm.delimiter;
  if (prm.filter_type && prm.filter_type !== "blacklist" && prm.filter_type !== "whitelist") {
    throw new InvalidArgument("filter_type", prm.filter_type, ["blacklist", "whitelist"], "https://docs.intelmq.org/latest/user/bots/#generic-csv");
  }
  const required = prm.columns_required ?? columns.map(() => true);
  if (required.length !== columns.length) {
    throw new InvalidArgument("columns_required", required.length, `as many entries as 'columns' (${columns.length})`);
  }
  const regexes = new Map(Object.entries(prm.column_regex_search ?? {}).map(([k, v]) => [k, pyRegex(v)]));
  const dataType = prm.data_type ?? {};
  const translation = prm.type_translation ?? {};
  const hasTranslation = Object.keys(translation).length > 0;
  const toTime: TimeConverter = timeConverter(prm.time_format);
  const urlPrefix = prm.default_url_protocol;
  const compose = Object.entries(prm.compose_fields ?? {}).map(([k, v]) => [k, compileFormat(v)] as const);
  const filterText = prm.filter_text && prm.filter_type ? prm.filter_text : null;
  const whitelist = prm.filter_type === "whitelist";
  const skip = prm.skip_header;

  let type: unknown = null;
  if (prm.type) {
    // invalid values stop the bot at start, as IntelMQ's default_fields check does
    const probe = ctx.newEvent();
    try { probe.add("classification.type", prm.type); } catch (err) {
      throw new ConfigurationError("generic_csv", `invalid value of parameter 'type': ${prm.type}`, { cause: err });
    }
    type = probe.get("classification.type");
  }

  const specs: ColumnSpec[] = columns.map((group, i) => ({
    required: required[i]!,
    keys: (group.includes("|") ? group.split("|") : [group]).map((key): KeySpec => ({
      key,
      ignore: key === "__IGNORE__" || key === "",
      regex: regexes.get(key) ?? null,
      json: key in dataType,
      kind: key === "time.source" || key === "time.destination" ? KIND_TIME
        : key.endsWith(".url") ? KIND_URL
        : key === "classification.type" && hasTranslation ? KIND_TYPE : KIND_PLAIN,
    })),
  }));
  const width = specs.length;

  /** Adds the row's columns; returns how many gave the event a value. */
  function addColumns(event: Event, fields: readonly string[]): number {
    let added = 0;
    const n = fields.length < width ? fields.length : width;
    for (let i = 0; i < n; i++) {
      const spec = specs[i]!;
      let value: unknown = fields[i];
      let done = false;
      let key = "";
      for (const ks of spec.keys) {
        key = ks.key;
        if (value === "") { done = true; break; } // an empty string is never valid
        if (ks.regex) {
          const m = ks.regex.exec(value as string);
          value = m ? m[0] : null;
        }
        if (ks.ignore) { done = true; break; }
        if (ks.json) {
          if (typeof value !== "string") throw new TypeError(`the JSON object must be str, not ${value === null ? "NoneType" : typeof value}`);
          value = JSON.parse(value);
        }
        if (ks.kind === KIND_TIME) {
          if (typeof value !== "string") throw new TypeError(`cannot convert ${String(value)} to a time`);
          value = toTime(value);
        } else if (ks.kind === KIND_URL) {
          if (!value) continue;
          if (typeof value === "string" && !value.includes("://")) value = urlPrefix + value;
        } else if (ks.kind === KIND_TYPE) {
          if (typeof value === "string" && Object.prototype.hasOwnProperty.call(translation, value)) value = translation[value];
          else if (prm.type === null) continue;
        }
        const ok = event.add(key, value, NO_RAISE);
        if (ok !== false) { if (ok) added++; done = true; break; }
      }
      if (!done && spec.required) throw new InvalidValue(key, value);
    }
    return added;
  }

  return {
    streamsRaw: true,

    /**
     * The raw a window at a time (overWindows): a record that may go on in the next window is
     * read again with it. A report of more than one window is read twice: first for its line
     * ending, which every event's raw uses (IntelMQ detects it over the whole report).
     */
    parse(report: Report): Iterable<CsvRow | SkippedLine> | AsyncIterable<CsvRow | SkippedLine> {
      const st: ReadState = { state: null, carry: "", atStart: true, ending: null };
      if (!isLargeRaw(report)) return overWindows(report, (w) => windowRows(w, st), DROP_INVALID);
      return (async function* () {
        let kinds = 0;
        let atStart = true;
        for await (const w of reportWindows(report, DROP_INVALID)) {
          kinds |= lineEndingKinds(cleanReport(w.text, atStart));
          atStart = w.text.endsWith("\n");
        }
        st.ending = lineEndingOf(kinds);
        for await (const w of reportWindows(report, DROP_INVALID)) yield* windowRows(w, st);
      })();
    },

    parseLine(row: CsvRow, report: Report): Event {
      const event = ctx.newEvent(report);
      let added = addColumns(event, row.fields);
      for (const [key, format] of compose) if (event.add(key, format(row.fields))) added++;
      // Only the type parameter (or nothing) would be left: the line says nothing.
      if (added === 0) throw new LineError(`no column of the line gives a value: ${excerpt(row.fields.join(delimiter))}`);
      event.add("raw", recover(row));
      if (type !== null) event.add("classification.type", type, NO_OVERWRITE);
      return event;
    },

    recoverLine(row: CsvRow): string {
      return recover(row);
    },
  };

  function* windowRows(w: RawWindow, st: ReadState): Generator<CsvRow | SkippedLine> {
    for (const line of commentLines(w.text, st.atStart)) yield skipLine(line, "comment");
    const text = st.carry + cleanReport(w.text, st.atStart);
    st.atStart = w.text.endsWith("\n");
    st.carry = "";
    let pos = 0;
    if (st.state === null) {
      const lineEnding = st.ending ?? detectLineEnding(text);
      const header: string[] = [];
      for (let k = 0; k < skip && pos < text.length; k++) {
        const end = lineEnd(text, pos);
        let e = end;
        while (e > pos && (text.charCodeAt(e - 1) === 10 || text.charCodeAt(e - 1) === 13)) e--;
        header.push(text.slice(pos, e));
        yield skipLine(text.slice(pos, e), "header");
        pos = end;
      }
      st.state = { prefix: header.length ? header.join(lineEnding) + lineEnding : "", lineEnding };
    }
    const state = st.state;
    const span = { start: 0, end: 0 };
    // Each record is given out when the next one was read: the window's last may be incomplete.
    let held: string[] | null = null;
    let heldStart = 0, heldEnd = 0;
    for (const fields of readRecords(text, delimiter, pos, span)) {
      if (held) {
        const r = row(held, text, heldStart, heldEnd, state);
        if (r) yield r;
      }
      held = fields;
      heldStart = span.start;
      heldEnd = span.end;
    }
    if (held) {
      if (w.last) {
        const r = row(held, text, heldStart, heldEnd, state);
        if (r) yield r;
      } else st.carry = text.slice(heldStart);
    }
  }

  /** What a record gives: a row, a skipped line (filtered out), or nothing (an empty line). */
  function row(fields: string[], text: string, start: number, end: number, state: ReportState): CsvRow | SkippedLine | null {
    if (fields.length === 0) return null;
    if (filterText !== null) {
      const found = (fields.length === 1 ? fields[0]! : fields.join(delimiter)).includes(filterText);
      if (found !== whitelist) return skipLine(text.slice(start, end).replace(/[\r\n]+$/, ""), `filter_type ${prm.filter_type}`);
    }
    return new CsvRow(fields, state, plainLine(text, start, end));
  }

  /**
   * The record's text when writing its fields back gives that text: comma-separated and without
   * quotes or line breaks, so its fields are its pieces between the commas and none needs
   * quoting. Taking it spares joining and checking every field of every line.
   */
  function plainLine(text: string, start: number, end: number): string | null {
    if (delimiter !== ",") return null;
    let e = end;
    while (e > start && (text.charCodeAt(e - 1) === 10 || text.charCodeAt(e - 1) === 13)) e--;
    if (e === start) return null;
    const line = text.slice(start, e);
    return line.includes('"') || line.includes("\r") || line.includes("\n") ? null : line;
  }

  function recover(row: CsvRow): string {
    // IntelMQ's recover_line_csv writes with the csv module's default dialect: always ","
    if (row.line !== null) return row.state.prefix + row.line + row.state.lineEnding;
    return row.state.prefix + writeRow(row.fields, ",", row.state.lineEnding);
  }
}

export default defineParser({
  name: "generic_csv",
  intelmq: "intelmq.bots.parsers.generic.parser_csv",
  description: "Parse any CSV feed by mapping its columns to harmonization fields",
  params,
  create,
});
