// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's ParserBot.process(): a report split into items, each parsed into events; failed items collected. */
import type { Logger } from "pino";
import { Message, type Report } from "../message/index.js";
import type { Emit, ParserImpl, Routed } from "./types.js";
import { LINE_SPLIT } from "./util.js";

/** The default parse(): the decoded raw, split into stripped lines, without empty ones. */
export function* defaultLines(report: Report, ignoreStarting?: readonly string[]): Generator<string> {
  const raw = report.get("raw");
  const text = typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
  for (const l of text.split(LINE_SPLIT)) {
    const line = l.trim();
    if (line === "") continue;
    if (ignoreStarting && ignoreStarting.some((pre) => line.startsWith(pre))) continue;
    yield line;
  }
}

/**
 * IntelMQ's `tempdata` idiom for line feeds with a comment header: lines starting with "#" are kept
 * (not parsed), and a failed line is dumped after the comments seen so far, so the dump shows the
 * line in its context. Spread the result into the parser: `{ ...commentHeader(parseLine) }`.
 */
export function commentHeader(parseLine: (line: string, report: Report) => ReturnType<ParserImpl["parseLine"]>):
  Required<Pick<ParserImpl, "parse" | "parseLine" | "recoverLine">> {
  let header: string[] = [];
  return {
    *parse(report: Report) {
      header = [];
      yield* defaultLines(report);
    },
    parseLine(item, report) {
      const line = String(item);
      if (line.startsWith("#")) {
        header.push(line);
        return [];
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

function recover(impl: ParserImpl, item: unknown): string {
  try {
    if (impl.recoverLine) return impl.recoverLine(item);
  } catch { /* fall back to the item itself */ }
  return typeof item === "string" ? item : JSON.stringify(item) ?? String(item);
}

/**
 * Parse one report, handing each event to `onEvent` as it is made (so a large report is never
 * held as events in memory; onEvent may ask to wait by returning a promise). Throws only when
 * parse() itself fails (the whole report is then retried); a line that throws is logged and
 * returned in the failed list, and parsing goes on.
 */
export async function parseReport(
  report: Report, impl: ParserImpl,
  opts: { log: Logger; defaultFields: Record<string, unknown> | null; tracebackText: (e: unknown) => string },
  onEvent: (r: Routed) => Promise<void> | void,
): Promise<{ events: number; failed: FailedLine[] }> {
  let events = 0;
  const pending: { traceback: string; item: unknown; error: unknown }[] = [];
  const items: Iterable<unknown> | AsyncIterable<unknown> = impl.parse ? impl.parse(report) : defaultLines(report, impl.ignoreLinesStarting);
  const df = opts.defaultFields && Object.keys(opts.defaultFields).length ? Object.entries(opts.defaultFields) : null;
  for await (const item of items) {
    if (item === null || item === undefined || item === "" || item === false) continue;
    let got: Routed[];
    try {
      got = normaliseEmit(await impl.parseLine(item, report));
      if (df) for (const r of got) for (const [k, v] of df) r.msg.add(k, v, { overwrite: false });
    } catch (err) {
      opts.log.error({ err }, "Failed to parse line.");
      pending.push({ traceback: opts.tracebackText(err), item, error: err });
      continue;
    }
    for (const r of got) {
      events++;
      const w = onEvent(r);
      if (w) await w;
    }
  }
  // As IntelMQ, failed lines are rebuilt after the whole report was read (recoverLine may use what parsing kept).
  const failed = pending.map((f) => ({ traceback: f.traceback, raw: recover(impl, f.item), error: f.error }));
  return { events, failed };
}
