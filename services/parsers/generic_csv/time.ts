// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The `time_format` parameter: IntelMQ's TimeFormat (a DateTime conversion name, optionally
 * `name|strptime format`). Conversions are the harmonization's; fuzzy parsing has a fast path
 * here for the plain timestamps feeds send most. Every converter returns Python's isoformat() text.
 */
import { callTypeMethod, fromEpochMillis, fromTimestamp, fromWindowsNt, isoformat, InvalidArgument } from "../../../shared/sdk/index.js";

/** A converter of one external time value; null means "no value" (IntelMQ returns None). */
export type TimeConverter = (value: string) => string | null;

const NAMES = ["timestamp", "windows_nt", "epoch_millis", "from_format", "from_format_midnight", "utc_isoformat", "fuzzy"] as const;
const WITH_FORMAT = new Set(["from_format", "from_format_midnight"]);

/** The numeric conversions are the harmonization's DateTime converters. */
export { fromEpochMillis, fromTimestamp, fromWindowsNt };

// "YYYY-MM-DD HH:MM:SS[.ffffff]" (or with "T"), no zone: what dateutil reads as naive UTC.
const PLAIN = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

// Common log format "01/Aug/2018:09:49:41 +0200", frequent in feeds.
const CLF = /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\s+([+-])(\d{2}):?(\d{2}))?$/;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * The fast paths of fuzzy parsing: the result for the plain shapes above (what dateutil gives for
 * them), undefined for anything else.
 */
export function fuzzyFastPath(value: string): string | undefined {
  if (value.length === 19) {
    const t = plainSeconds(value);
    if (t !== undefined) return t;
  }
  const m = PLAIN.exec(value);
  if (m) {
    const [y, mo, d, h, mi, s] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
    if (y >= 100 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 60) {
      const ms = Date.UTC(y, mo - 1, d, h, mi, s);
      if (new Date(ms).getUTCDate() === d) {
        const us = m[7] ? Number(m[7].padEnd(6, "0")) : 0;
        return isoformat({ ms: ms + Math.floor(us / 1000), us: us % 1000 });
      }
    }
    return undefined;
  }
  const c = CLF.exec(value);
  if (c) {
    const [d, y, h, mi, s] = [+c[1]!, +c[3]!, +c[4]!, +c[5]!, +c[6]!];
    const mo = MONTHS.indexOf(c[2]!.toLowerCase());
    // dateutil reads "+HHMM" as HH hours and MM minutes, and refuses offsets of a day or more
    const off = c[7] ? (c[7] === "-" ? -1 : 1) * (Number(c[8]) * 60 + Number(c[9])) : 0;
    if (mo < 0 || y < 100 || d < 1 || h > 23 || mi > 59 || s > 59 || Math.abs(off) >= 24 * 60) return undefined;
    const local = Date.UTC(y, mo, d, h, mi, s);
    if (new Date(local).getUTCDate() !== d) return undefined;
    const ms = local - off * 60000;
    if (ms < MIN_MS || ms > MAX_MS) return undefined;
    return isoformat({ ms, us: 0 });
  }
  return undefined;
}

/**
 * "YYYY-MM-DD HH:MM:SS" (or with "T") read from its characters: isoformat() of it is the same
 * text with "T" and "+00:00". Most feeds' timestamps look so; no match array, no Date, no
 * strings but the result. undefined for anything else (PLAIN then decides).
 */
function plainSeconds(v: string): string | undefined {
  const sep = v.charCodeAt(10);
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || (sep !== 32 && sep !== 84) || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return undefined;
  const y = digits(v, 0, 4), mo = digits(v, 5, 2), d = digits(v, 8, 2), h = digits(v, 11, 2), mi = digits(v, 14, 2), s = digits(v, 17, 2);
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 ? (leap ? 29 : 28) : DAYS[mo - 1]!)) return undefined;
  return `${v.slice(0, 10)}T${v.slice(11)}+00:00`;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number of `n` decimal digits at `at`, -1 if one is not a digit. */
function digits(v: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/** 0001-01-01 and 9999-12-31T23:59:59 in ms since the epoch. */
const MIN_MS = -62135596800000;
const MAX_MS = 253402300799000;

/** Fuzzy parsing (IntelMQ's DateTime.from_fuzzy), with fast paths for the plain timestamps feeds send most. */
export function fromFuzzy(value: string): string {
  return fuzzyFastPath(value) ?? convert(value, "fuzzy");
}

function convert(value: string, format: string): string {
  const r = callTypeMethod("DateTime", "convert", { value, format });
  if (typeof r !== "string") throw new TypeError(`time conversion ${format} gave no text for ${JSON.stringify(value)}`);
  return r;
}

/**
 * Validates `time_format` as IntelMQ's TimeFormat does (InvalidArgument otherwise) and
 * returns the converter. null or "" mean fuzzy.
 */
export function timeConverter(timeFormat: string | null | undefined): TimeConverter {
  const tf = timeFormat || "fuzzy";
  const bar = tf.indexOf("|");
  const name = bar === -1 ? tf : tf.slice(0, bar);
  const fmt = bar === -1 ? null : tf.slice(bar + 1).split("|")[0] || null;
  if (!(NAMES as readonly string[]).includes(name)) throw new InvalidArgument("time_format", tf, [...NAMES]);
  if (WITH_FORMAT.has(name) && !fmt) throw new InvalidArgument("time_format", tf, `${name}|FORMAT_STRING`);
  if (!WITH_FORMAT.has(name) && fmt) throw new InvalidArgument("time_format", tf, name);
  switch (name) {
    case "timestamp": return fromTimestamp;
    case "windows_nt": return fromWindowsNt;
    case "epoch_millis": return fromEpochMillis;
    case "fuzzy": return fromFuzzy;
    case "utc_isoformat": return (v) => convert(v, "utc_isoformat");
    default: { const full = `${name}|${fmt}`; return (v) => convert(v, full); }
  }
}
