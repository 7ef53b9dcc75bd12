// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { ConfigurationError, pyEquals, pyRegex, pyStr, type Message, type Emit, type Routed, defineBot } from "../../../shared/sdk/index.js";

/** Minutes per unit of a relative time ("2 days", "1 week"), as IntelMQ's utils.TIMESPANS. */
export const TIMESPANS: Readonly<Record<string, number>> = Object.freeze({
  second: 1 / 60, minute: 1, hour: 60, day: 24 * 60, week: 7 * 24 * 60, month: 30 * 24 * 60, year: 365 * 24 * 60,
});

/** A time limit: an absolute instant (ms since the epoch) or a span (ms) back from now. */
export type TimeLimit = { absolute: number } | { relativeMs: number };

const ISO_LOCAL = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;
const TZ_SUFFIX = /(?:Z|[+-]\d{2}:?\d{2})$/i;

/** Parse an absolute time; without a zone it is UTC (IntelMQ compares with UTC event times). */
export function parseAbsolute(text: string): number {
  const s = text.trim();
  const local = ISO_LOCAL.exec(s);
  const ms = Date.parse(local ? `${local[1]}T${local[2]}Z` : s);
  if (Number.isNaN(ms)) throw new ConfigurationError("filter", `cannot parse time ${JSON.stringify(text)}`);
  return ms;
}

/**
 * IntelMQ's parse_timeattr(): relative when the text names any time unit ("10 hours"),
 * else absolute (certtools/intelmq#1523: "10 hours" is no date).
 */
export function parseTimeLimit(text: string): TimeLimit {
  if (!Object.keys(TIMESPANS).some((unit) => text.includes(unit))) return { absolute: parseAbsolute(text) };
  const m = /^(\d+)\s+(\w+[^s])s?$/.exec(text.trim());
  const minutes = m ? TIMESPANS[m[2]!] : undefined;
  if (!m || minutes === undefined || !Object.hasOwn(TIMESPANS, m[2]!)) {
    throw new ConfigurationError("filter", `cannot parse relative time ${JSON.stringify(text)}`);
  }
  return { relativeMs: Number(m[1]) * minutes * 60_000 };
}

/** time.source as IntelMQ reads it: its zone replaced by UTC (harmonised values are UTC already). */
function eventTime(value: unknown): number {
  const s = String(value).trim().replace(TZ_SUFFIX, "");
  const local = ISO_LOCAL.exec(s);
  return Date.parse(local ? `${local[1]}T${local[2]}Z` : `${s}Z`);
}

// IntelMQ takes any non-empty value as "use a regex" ("true", "yes", ...); explicit false-words mean no.
const regexFlag = z.preprocess((v) => {
  if (typeof v === "string") return !["", "false", "no", "0", "off"].includes(v.trim().toLowerCase());
  if (typeof v === "number") return v !== 0;
  return v;
}, z.boolean().nullable());

export const params = z.object({
  filter_key: z.string().nullable().default(null).describe("The key to compare, e.g. classification.type or extra.tag"),
  filter_value: z.union([z.string(), z.number(), z.boolean()]).nullable().default(null)
    .describe("The value to compare with (equality), or a Python-style regular expression when filter_regex is set"),
  filter_action: z.string().nullable().default(null)
    .describe("keep: events that match go on _default; drop: events that match do not (they go to action_other)"),
  filter_regex: regexFlag.default(null).describe("Treat filter_value as a regular expression searched in the value's text"),
  not_before: z.string().nullable().default(null)
    .describe("Drop events whose time.source is before this: an absolute time (2015-09-12T06:22:11+00:00) or relative to now (\"1 week\", \"2 days\")"),
  not_after: z.string().nullable().default(null)
    .describe("Drop events whose time.source is after this: absolute, or relative to now (\"6 months\": only events older than 6 months pass)"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "filter",
  intelmq: "intelmq.bots.experts.filter.expert",
  description: "Keeps or drops events by one key's value (equality or regex) and/or by time.source; also routes them on filter_match, filter_no_match and action_other",
  params,
  create: (prm, ctx) => {
    const notAfter = prm.not_after ? parseTimeLimit(prm.not_after) : null;
    const notBefore = prm.not_before ? parseTimeLimit(prm.not_before) : null;
    for (const [name, limit] of [["not_after", notAfter], ["not_before", notBefore]] as const) {
      if (limit) ctx.log.info({ [name]: limit }, "Filtering out events to (%s time).", "absolute" in limit ? "absolute" : "relative");
    }

    let byValue = true;
    if (prm.filter_key === null) { ctx.log.info("No filter_key parameter found."); byValue = false; }
    else if (prm.filter_value === null) { ctx.log.info("No filter_value parameter found."); byValue = false; }
    else if (prm.filter_action === null) { ctx.log.info("No filter_action parameter found."); byValue = false; }
    else if (prm.filter_action !== "keep" && prm.filter_action !== "drop") {
      ctx.log.info("Filter_action parameter definition unknown."); byValue = false;
    }
    const byTime = notAfter !== null || notBefore !== null;
    if (!byValue && !byTime) throw new ConfigurationError("filter", "No relevant filter configuration found.");

    const key = prm.filter_key ?? "";
    const value = prm.filter_value;
    const regex = prm.filter_regex ? pyRegex(String(value)) : null;
    const matches = (msg: Message): boolean => {
      if (!msg.has(key)) return false;
      const v = msg.get(key);
      return regex ? regex.test(pyStr(v)) : pyEquals(v, value);
    };

    /** True when time.source lies outside the limits. */
    const tooOldOrNew = (msg: Message): boolean => {
      const t = eventTime(msg.get("time.source"));
      if (Number.isNaN(t)) {
        ctx.log.error("Could not parse time.source %s.", String(msg.get("time.source")));
        return false;
      }
      const now = Date.now();
      if (notAfter && t > ("absolute" in notAfter ? notAfter.absolute : now - notAfter.relativeMs)) return true;
      if (notBefore && t < ("absolute" in notBefore ? notBefore.absolute : now - notBefore.relativeMs)) return true;
      return false;
    };

    return {
      process(event): Emit {
        if (byTime && event.has("time.source") && tooOldOrNew(event)) {
          ctx.log.debug("Filtered out event with time.source %s.", String(event.get("time.source")));
          return null;
        }
        if (!byValue) return event;
        // The paths as IntelMQ sends them: named ones path-permissively (skipped when not configured).
        const to = (path: string): Routed => ({ path, msg: event, permissive: true });
        const hit = matches(event);
        if (prm.filter_action === "drop") {
          return hit ? [to("action_other"), to("filter_match")] : [to("filter_no_match"), event];
        }
        return hit ? [to("filter_match"), event] : [to("action_other"), to("filter_no_match")];
      },
    };
  },
});
