// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's ParserBot.process(): a report split into items, each parsed into events; failed items
 * collected. Nothing is dropped without a word: an item is an event, a failed line (dumped with the
 * reason), or a line the parser declares skipped (a comment, a header, a known footer) with skipLine().
 */
import type { Logger } from "pino";
import { LineError } from "../errors/index.js";
import { Message, type Report } from "../message/index.js";
import type { Emit, ParserImpl, Routed } from "./types.js";
import { inlineWindows, overWindows, windowLines, type RawWindow } from "./raw-text.js";

/**
 * A line the parser deliberately does not parse, and why ("comment", "header", ...). parse() may
 * yield it and parseLine() may return it; the driver logs it at debug level ("Skipped line.").
 */
export class SkippedLine {
  constructor(readonly line: string, readonly reason: string) {}
}

/** Declare a line deliberately skipped (see SkippedLine). */
export function skipLine(line: string, reason: string): SkippedLine {
  return new SkippedLine(line, reason);
}

/**
 * event.add() of the field a line is about (its address, domain, network, URL): a value that add()
 * takes for "no value" ("", "-", "N/A") fails the line instead of leaving an event about nothing.
 */
export function addRequired(event: Message, key: string, value: unknown): void {
  if (event.add(key, value) !== true) throw new LineError(`no value for ${key}: ${excerpt(String(value ?? ""))}`);
}

/** A line quoted for an error message, cut after `max` characters (the dump holds all of it). */
export function excerpt(line: string, max = 80): string {
  return JSON.stringify(line.length > max ? `${line.slice(0, max)}...` : line);
}

/** The decoded raw of a report (UTF-8; undecodable bytes become U+FFFD). */
export function reportText(report: Report): string {
  const raw = report.get("raw");
  return typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
}

/**
 * The lines of a report's inline raw (Python's str.splitlines() boundaries), decoded and split a
 * window at a time: a large report is never held decoded as a whole, nor as an array of its lines.
 */
export function* rawLines(report: Report): Generator<string> {
  for (const w of inlineWindows(report)) yield* windowLines(w);
}

/** The default parse(): the decoded raw, split into stripped lines, without empty ones. */
export function* defaultLines(report: Report): Generator<string> {
  for (const l of rawLines(report)) {
    const line = l.trim();
    if (line !== "") yield line;
  }
}

/** defaultLines() of any report, streamed ones too: the stripped, non-empty lines of its windows. */
export function reportItems(report: Report, ignoreStarting?: readonly string[]): Iterable<string | SkippedLine> | AsyncIterable<string | SkippedLine> {
  return overWindows(report, (w) => windowItems(w, ignoreStarting));
}

/** A window's stripped, non-empty lines; with `ignoreStarting`, those starting so declared skipped (IntelMQ's _ignore_lines_starting). */
function* windowItems(w: RawWindow, ignoreStarting?: readonly string[]): Generator<string | SkippedLine> {
  for (const l of windowLines(w)) {
    const line = l.trim();
    if (line === "") continue;
    if (ignoreStarting && ignoreStarting.some((pre) => line.startsWith(pre))) yield skipLine(line, "ignored start of line");
    else yield line;
  }
}

/**
 * IntelMQ's `tempdata` idiom for line feeds with a comment header: lines starting with "#" are kept
 * (not parsed), and a failed line is dumped after the comments seen so far, so the dump shows the
 * line in its context. Spread the result into the parser: `{ ...commentHeader(parseLine) }`.
 */
export function commentHeader(parseLine: (line: string, report: Report) => ReturnType<ParserImpl["parseLine"]> | SkippedLine):
  Required<Pick<ParserImpl, "parse" | "parseLine" | "recoverLine" | "streamsRaw">> {
  let header: string[] = [];
  return {
    streamsRaw: true,
    parse(report: Report) {
      header = [];
      return reportItems(report);
    },
    parseLine(item, report) {
      const line = String(item);
      if (line.startsWith("#")) {
        header.push(line);
        return skipLine(line, "comment");
      }
      return parseLine(line, report);
    },
    recoverLine(item) {
      return [...header, String(item)].join("\n");
    },
  };
}

function isRouted(v: unknown): v is Routed {
  return typeof v === "object" && v !== null && !(v instanceof Message) && "msg" in v && "path" in v;
}

/**
 * What a bot returned, as routed messages: nothing, a message, a routed message, or a list,
 * iterable or generator of those (falsy entries skipped).
 */
export function normaliseEmit(v: Emit | Iterable<unknown> | unknown): Routed[] {
  if (v === null || v === undefined || v === false) return [];
  if (v instanceof Message) return [{ path: "_default", msg: v }];
  if (isRouted(v)) return [v];
  if (typeof v === "object" && Symbol.iterator in (v as object) && typeof v !== "string") {
    const out: Routed[] = [];
    for (const x of v as Iterable<unknown>) {
      if (x === null || x === undefined || x === false) continue;
      if (x instanceof Message) out.push({ path: "_default", msg: x });
      else if (isRouted(x)) out.push(x);
      else throw new TypeError(`bot returned ${typeof x} where a message was expected`);
    }
    return out;
  }
  throw new TypeError(`bot returned ${typeof v} where a message was expected`);
}

/** A line that failed: the stack as one string and the rebuilt raw text. */
export interface FailedLine { traceback: string; raw: string; error: unknown }

/** What a report gave: how many events went out, the failed lines, the declared skips. */
export interface ParseResult { events: number; failed: FailedLine[]; skipped: SkippedLine[] }

export interface ParseOptions {
  log: Logger;
  defaultFields: Record<string, unknown> | null;
  tracebackText: (e: unknown) => string;
  /** The parser's name, put before the problem of a LineError and of an event without fields. */
  parser?: string;
}

function recover(impl: ParserImpl, item: unknown): string {
  try {
    if (impl.recoverLine) return impl.recoverLine(item);
  } catch { /* fall back to the item itself */ }
  return typeof item === "string" ? item : JSON.stringify(item) ?? String(item);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === "object" && a !== null && typeof b === "object" && b !== null && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A test of whether an item of an event is its own: neither given by the report (feed.*,
 * time.observation, copied fields) nor raw. An event without one says nothing. Made once per
 * report, used with Message.some(): no array of keys per event.
 */
const NO_OWN_FIELD = "the line gives no field of its own (only what the report gives: feed.*, time.observation, raw), so no event";

function ownFieldOf(report: Report): (key: string, value: unknown) => boolean {
  // The report's items in a Map, made once: a lookup each instead of the report's has() and get().
  // A parser that changes the report while parsing has it asked as it is then.
  const given = new Map<string, unknown>();
  for (const [k, v] of report) if (k !== "raw") given.set(k, v);
  const version = report._version;
  return (k, v) => {
    if (k === "raw") return false;
    if (report._version !== version) return !report.has(k) || !sameValue(report.get(k), v);
    const r = given.get(k);
    return r === undefined || !sameValue(r, v);
  };
}

/**
 * Parse one report, handing each event to `onEvent` as it is made (so a large report is never
 * held as events in memory; onEvent may ask to wait by returning a promise). Throws only when
 * parse() itself fails (the whole report is then retried); a line that throws, or that gives an
 * event without a field of its own, is logged and returned in `failed`, and parsing goes on.
 * Declared skips are returned in `skipped`.
 */
export async function parseReport(
  report: Report, impl: ParserImpl, opts: ParseOptions, onEvent: (r: Routed | Message) => Promise<void> | void,
): Promise<ParseResult> {
  let events = 0;
  const skipped: SkippedLine[] = [];
  const pending: { traceback: string; item: unknown; error: unknown }[] = [];
  const items: Iterable<unknown> | AsyncIterable<unknown> = impl.parse ? impl.parse(report) : reportItems(report, impl.ignoreLinesStarting);
  const df = opts.defaultFields && Object.keys(opts.defaultFields).length ? Object.entries(opts.defaultFields) : null;
  const ownField = ownFieldOf(report);
  const named = (problem: string) => (opts.parser ? `${opts.parser}: ${problem}` : problem);
  const debug = opts.log.isLevelEnabled("debug");
  const skip = (s: SkippedLine): void => {
    skipped.push(s);
    if (debug) opts.log.debug({ line: s.line, reason: s.reason }, "Skipped line.");
  };
  const fail = (item: unknown, err: unknown): void => {
    if (err instanceof LineError && opts.parser && !err.message.startsWith(`${opts.parser}: `)) err.message = named(err.message);
    opts.log.error({ err }, "Failed to parse line.");
    pending.push({ traceback: opts.tracebackText(err), item, error: err });
  };
  // Events handed on from `from`; a promise only when onEvent asks to wait.
  const emit = (got: Routed[], from: number): Promise<void> | void => {
    for (let i = from; i < got.length; i++) {
      events++;
      const w = onEvent(got[i]!);
      if (w) return w.then(() => emit(got, i + 1));
    }
  };
  /** An event must hold a field of its own; then it gets the default fields it lacks. */
  const ready = (msg: Message): void => {
    if (!msg.some(ownField)) throw new LineError(NO_OWN_FIELD);
  };
  const withDefaults = (msg: Message): void => {
    if (df) for (const [k, v] of df) msg.add(k, v, { overwrite: false });
  };
  const take = (item: unknown, out: unknown): Promise<void> | void => {
    if (out instanceof SkippedLine) { skip(out); return; }
    // One message for _default, what most lines give, is handed on as it is: no route objects.
    const one = out instanceof Message ? out : null;
    let got: Routed[] = [];
    try {
      if (one) {
        ready(one);
        withDefaults(one);
      } else {
        got = normaliseEmit(out);
        // One such event fails its whole line (the dump then recovers all of the line's events at once).
        for (const r of got) ready(r.msg);
        for (const r of got) withDefaults(r.msg);
      }
    } catch (err) {
      fail(item, err);
      return;
    }
    if (!one) return emit(got, 0);
    events++;
    return onEvent(one);
  };
  // Plain values and plain iterables are taken without a promise per line (most parsers are synchronous).
  const step = (item: unknown): Promise<void> | void => {
    if (item === null || item === undefined || item === "" || item === false) return;
    if (item instanceof SkippedLine) { skip(item); return; }
    let out: unknown;
    try {
      out = impl.parseLine(item, report);
    } catch (err) {
      fail(item, err);
      return;
    }
    if (typeof (out as PromiseLike<unknown> | null)?.then === "function") {
      return Promise.resolve(out).then((o: unknown) => take(item, o), (err: unknown) => fail(item, err));
    }
    return take(item, out);
  };
  if (Symbol.asyncIterator in items) {
    for await (const item of items) {
      const w = step(item);
      if (w) await w;
    }
  } else {
    for (const item of items) {
      const w = step(item);
      if (w) await w;
    }
  }
  // As IntelMQ, failed lines are rebuilt after the whole report was read (recoverLine may use what parsing kept).
  const failed = pending.map((f) => ({ traceback: f.traceback, raw: recover(impl, f.item), error: f.error }));
  return { events, failed, skipped };
}
