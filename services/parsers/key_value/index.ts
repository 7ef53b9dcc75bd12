// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Key=value parser: lines of key=value pairs (firewall logs such as FortiGate's), the configured
 * keys copied to event fields (IntelMQ's intelmq.bots.parsers.key_value.parser).
 */
import { z } from "zod";
import { type Report, ConfigurationError, fromTimestamp, isoformat, parseFuzzy, defineParser, p, parserParams } from "../../../shared/sdk/index.js";

const separator = (what: string) => z.string().min(1, `${what} must not be empty`);

export const params = z.object({
  ...parserParams,
  keys: z.record(z.string(), z.string()).default({}).describe("Mapping of keys in the data to event fields, e.g. {srcip: source.ip}; required"),
  pair_separator: separator("pair_separator").default(" ").describe("String between key=value pairs"),
  kv_separator: separator("kv_separator").default("=").describe("String between a key and its value (the last one in a pair counts)"),
  strip_quotes: p.bool().default(true).describe("Remove the double quotes around a value"),
  timestamp_key: p.str().default(null).describe("Obsolete and ignored: map the key to time.source in `keys` instead"),
}).strict();

export type Params = z.infer<typeof params>;

/** A time.source value: digits are UNIX seconds, anything else is read fuzzily; null if neither works. */
export function parseTime(value: string): string | null {
  try {
    if (/^[0-9]+$/.test(value)) return fromTimestamp(value);
    const t = parseFuzzy(value);
    return t ? isoformat(t) : null;
  } catch {
    // out-of-range times are dropped like unparsable ones
    return null;
  }
}

export default defineParser({
  name: "key_value",
  intelmq: "intelmq.bots.parsers.key_value.parser",
  description: "Parses lines of key=value pairs (e.g. FortiGate logs) into events with the configured fields",
  params,
  create: (prm: Params, ctx) => {
    if (Object.keys(prm.keys).length === 0) throw new ConfigurationError("Key extraction", "No keys specified.");
    if (prm.timestamp_key !== null) {
      ctx.log.warn({ timestamp_key: prm.timestamp_key }, "Parameter 'timestamp_key' is ignored: map the key to 'time.source' in 'keys'.");
    }
    const keys = new Map(Object.entries(prm.keys));
    return {
      parseLine(item: unknown, report: Report) {
        const line = String(item);
        const event = ctx.newEvent(report);
        for (const pair of line.split(prm.pair_separator)) {
          // Tokens without the separator (headers, trailers) are skipped.
          const at = pair.lastIndexOf(prm.kv_separator);
          if (at <= 0) continue;
          const key = pair.slice(0, at);
          const field = keys.get(key);
          if (field === undefined) continue;
          let value: string | null = pair.slice(at + prm.kv_separator.length);
          if (prm.strip_quotes && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
          if (field === "time.source") {
            const raw = value;
            value = parseTime(raw);
            if (value === null) ctx.log.warn({ key, value: raw, line }, "Could not parse the value of key for 'time.source'; ignoring it in this line.");
          }
          // Values the field does not accept are left out, the rest of the line still counts.
          event.add(field, value, { raiseFailure: false });
        }
        event.add("raw", line);
        return event;
      },
    };
  },
});
