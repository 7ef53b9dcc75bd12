// SPDX-License-Identifier: AGPL-3.0-only
// DateTime: IntelMQ's canonical form `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, its converters,
// Python's strptime, and dateutil's parser (dateutil.ts) for everything else.
import { PythonError } from "../errors/index.js";
import { pyParseFloat, pyParseInt, pyStrip } from "./py.js";
import { dateutilParse, type DateutilOptions } from "./dateutil.js";

/** A point in time in UTC with microsecond precision (ms since epoch + extra µs). */
export interface UtcTime {
  /** milliseconds since the epoch (integer) */
  ms: number;
  /** microseconds within the millisecond, 0..999 */
  us: number;
}

/** Python's ValueError, as one of our errors. */
export function valueError(message: string): PythonError {
  return new PythonError("ValueError", message);
}
/** Python's TypeError, as one of our errors. */
function typeError(message: string): PythonError {
  return new PythonError("TypeError", message);
}

function p2(n: number): string { return n < 10 ? "0" + n : String(n); }

/** datetime.isoformat() of a UTC time with +00:00. */
export function isoformat(t: UtcTime): string {
  const d = new Date(t.ms);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) throw valueError("year is out of range");
  const micro = d.getUTCMilliseconds() * 1000 + t.us;
  const base = `${String(y).padStart(4, "0")}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  return micro ? `${base}.${String(micro).padStart(6, "0")}+00:00` : `${base}+00:00`;
}

/** Build a UTC time from fields; null if the date does not exist (Python's datetime() ValueError). */
function fromFields(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, micro = 0, offsetSec = 0): UtcTime | null {
  if (!(y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59)) return null;
  if (d > daysInMonth(y, mo)) return null;
  let base = Date.UTC(y, mo - 1, d, h, mi, s);
  if (y < 100) {
    // Date.UTC maps years 0..99 to 1900..1999
    const dt = new Date(base);
    dt.setUTCFullYear(y);
    base = dt.getTime();
  }
  return { ms: base - offsetSec * 1000 + Math.floor(micro / 1000), us: micro % 1000 };
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

/**
 * What Python's strptime accepts for IntelMQ's two ISO formats (case-insensitive,
 * single-digit fields allowed, 1-6 fraction digits).
 */
const ISO_STRPTIME = /^(\d{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])[Tt](2[0-3]|[01]\d|\d):([0-5]\d|\d):(6[01]|[0-5]\d|\d)(?:\.(\d{1,6}))?\+00:00$/;
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00$/;

/** IntelMQ's DateTime.from_isoformat check: true if the value parses with its two strptime formats. */
export function matchesIsoFormat(v: string): boolean {
  if (CANONICAL.test(v)) {
    // common case: only the day of month and ranges need checking
    const mo = (v.charCodeAt(5) - 48) * 10 + v.charCodeAt(6) - 48;
    const d = (v.charCodeAt(8) - 48) * 10 + v.charCodeAt(9) - 48;
    const h = (v.charCodeAt(11) - 48) * 10 + v.charCodeAt(12) - 48;
    const mi = (v.charCodeAt(14) - 48) * 10 + v.charCodeAt(15) - 48;
    const s = (v.charCodeAt(17) - 48) * 10 + v.charCodeAt(18) - 48;
    const y = +v.slice(0, 4);
    return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && s <= 59;
  }
  const m = ISO_STRPTIME.exec(v);
  if (!m) return false;
  const y = +m[1]!, mo = +m[2]!, d = +m[3]!.trim();
  return y >= 1 && d <= daysInMonth(y, mo) && +m[6]! <= 59;
}

/** DateTime.from_isoformat(value): the value itself, or ValueError. */
export function fromIsoformat(v: unknown): string {
  if (typeof v !== "string") throw typeError("strptime() argument 1 must be str");
  if (!matchesIsoFormat(v)) throw valueError(`time data '${v}' does not match format '%Y-%m-%dT%H:%M:%S+00:00'`);
  return v;
}

/** datetime.fromtimestamp(float(value), utc).isoformat() */
export function fromTimestamp(value: unknown): string {
  const f = toPyFloat(value);
  const sec = Math.floor(f);
  // Python rounds the fraction to microseconds, half to even
  let micro = roundHalfEven((f - sec) * 1e6);
  let s = sec;
  if (micro >= 1000000) { s += 1; micro -= 1000000; }
  if (!Number.isFinite(s) || Math.abs(s) > 253402300799) throw valueError("year is out of range");
  return isoformat({ ms: s * 1000 + Math.floor(micro / 1000), us: micro % 1000 });
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function toPyFloat(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    const f = pyParseFloat(value);
    if (f === null) throw valueError(`could not convert string to float: '${value}'`);
    return f;
  }
  throw typeError("float() argument must be a string or a number");
}

function toPyInt(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw valueError("cannot convert float to integer");
    return Math.trunc(value);
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    const i = pyParseInt(value);
    if (i === null) throw valueError(`invalid literal for int() with base 10: '${value}'`);
    return i;
  }
  throw typeError("int() argument must be a string or a number");
}

/** DateTime.from_epoch_millis: 10, 12 or 13 characters; anything else gives null (Python's None). */
export function fromEpochMillis(value: unknown): string | null {
  const len = (typeof value === "string" ? value : String(value)).length;
  const n = toPyInt(value);
  if (len === 10) return fromTimestamp(n);
  if (len === 12) return fromTimestamp(Math.floor(n / 100));
  if (len === 13) return fromTimestamp(Math.floor(n / 1000));
  return null;
}

/** DateTime.from_windows_nt: 100 ns ticks since 1601-01-01 UTC. */
export function fromWindowsNt(value: unknown): string {
  const ticks = typeof value === "string" ? Number(BigInt(pyStrip(value).replace(/_/g, ""))) : toPyInt(value);
  const seconds = ticks * 1e-7;
  const whole = Math.floor(seconds);
  let micro = roundHalfEven((seconds - whole) * 1e6);
  let s = whole;
  if (micro >= 1000000) { s += 1; micro -= 1000000; }
  const epoch1601 = -11644473600; // 1601-01-01 in Unix seconds
  return isoformat({ ms: (epoch1601 + s) * 1000 + Math.floor(micro / 1000), us: micro % 1000 });
}

/** now in UTC, second precision. */
export function generateDatetimeNow(): string {
  const ms = Math.floor(Date.now() / 1000) * 1000;
  return isoformat({ ms, us: 0 });
}

// ---------- strptime ----------

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

interface Compiled { re: RegExp; fields: string[] }
const strptimeCache = new Map<string, Compiled>();

const DIRECTIVES: Record<string, string> = {
  d: "(3[01]|[12]\\d|0[1-9]|[1-9]| [1-9])",
  f: "(\\d{1,6})",
  H: "(2[0-3]|[0-1]\\d|\\d)",
  I: "(1[0-2]|0[1-9]|[1-9])",
  G: "(\\d\\d\\d\\d)",
  j: "(36[0-6]|3[0-5]\\d|[12]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])",
  m: "(1[0-2]|0[1-9]|[1-9])",
  M: "([0-5]\\d|\\d)",
  S: "(6[0-1]|[0-5]\\d|\\d)",
  U: "(5[0-3]|[0-4]\\d|\\d)",
  w: "([0-6])",
  u: "([1-7])",
  V: "(5[0-3]|0[1-9]|[1-4]\\d|\\d)",
  W: "(5[0-3]|[0-4]\\d|\\d)",
  y: "(\\d\\d)",
  Y: "(\\d\\d\\d\\d)",
  z: "([+-]\\d\\d:?[0-5]\\d(?::?[0-5]\\d(?:\\.\\d{1,6})?)?|Z)",
  a: `(${WEEKDAYS.map((w) => w.slice(0, 3)).join("|")})`,
  A: `(${WEEKDAYS.join("|")})`,
  b: `(${MONTHS.map((m) => m.slice(0, 3)).join("|")})`,
  B: `(${MONTHS.join("|")})`,
  p: "(am|pm)",
  Z: "(utc|gmt|z)",
};

function compileFormat(fmt: string): Compiled {
  let c = strptimeCache.get(fmt);
  if (c) return c;
  let re = "";
  const fields: string[] = [];
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i]!;
    if (ch === "%") {
      const d = fmt[++i];
      if (d === "%") { re += "%"; continue; }
      if (d === undefined) throw valueError("stray % in format ''");
      const src = DIRECTIVES[d];
      if (d === "c" || d === "x" || d === "X") {
        // C locale forms
        const sub = d === "c" ? "%a %b %d %H:%M:%S %Y" : d === "x" ? "%m/%d/%y" : "%H:%M:%S";
        const inner = compileFormat(sub);
        fields.push(...inner.fields);
        re += inner.re.source.slice(1, -1);
        continue;
      }
      if (!src) throw valueError(`'${d}' is a bad directive in format '${fmt}'`);
      fields.push(d);
      re += src;
    } else if (/\s/.test(ch)) {
      re += "\\s+";
      while (i + 1 < fmt.length && /\s/.test(fmt[i + 1]!)) i++;
    } else {
      re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    }
  }
  c = { re: new RegExp(`^${re}$`, "i"), fields };
  strptimeCache.set(fmt, c);
  return c;
}

/** Python's datetime.strptime(value, fmt) converted to UTC (naive = UTC). */
export function strptime(value: unknown, fmt: string, ignoreOffset = false): UtcTime {
  if (typeof value !== "string") throw typeError("strptime() argument 1 must be str");
  const c = compileFormat(fmt);
  const m = c.re.exec(value);
  if (!m) throw valueError(`time data '${value}' does not match format '${fmt}'`);
  let y = 1900, mo = 1, d = 1, h = 0, mi = 0, s = 0, micro = 0, off = 0, pm: boolean | null = null, hour12 = -1, yday = -1;
  c.fields.forEach((f, i) => {
    const v = m[i + 1]!;
    switch (f) {
      case "Y": y = +v; break;
      case "y": { const n = +v; y = n <= 68 ? 2000 + n : 1900 + n; break; }
      case "m": mo = +v; break;
      case "d": d = +v.trim(); break;
      case "H": h = +v; break;
      case "I": hour12 = +v; break;
      case "M": mi = +v; break;
      case "S": s = +v; break;
      case "f": micro = +v.padEnd(6, "0"); break;
      case "j": yday = +v; break;
      case "b": mo = MONTHS.findIndex((x) => x.startsWith(v.toLowerCase())) + 1; break;
      case "B": mo = MONTHS.indexOf(v.toLowerCase()) + 1; break;
      case "p": pm = v.toLowerCase() === "pm"; break;
      case "z": {
        if (v.toUpperCase() === "Z") { off = 0; break; }
        const z = /^([+-])(\d\d):?(\d\d)(?::?(\d\d)(?:\.(\d+))?)?$/.exec(v)!;
        off = (+z[2]! * 3600 + +z[3]! * 60 + +(z[4] ?? 0)) * (z[1] === "-" ? -1 : 1);
        break;
      }
    }
  });
  if (hour12 >= 0) h = pm ? (hour12 % 12) + 12 : hour12 % 12;
  if (yday > 0) {
    // day of year relative to the parsed year
    const start = fromFields(y, 1, 1)!;
    const dd = new Date(start.ms + (yday - 1) * 86400000);
    mo = dd.getUTCMonth() + 1;
    d = dd.getUTCDate();
  }
  if (s > 59) throw valueError("second must be in 0..59");
  const t = fromFields(y, mo, d, h, mi, s, micro, ignoreOffset ? 0 : off);
  if (!t) throw valueError("day is out of range for month");
  return t;
}

/** DateTime.from_format */
export function fromFormat(value: unknown, fmt: string): string {
  return isoformat(strptime(value, fmt));
}

/** DateTime.from_format_midnight */
export function fromFormatMidnight(value: unknown, fmt: string): string {
  // combine(parsed date, midnight, utc): the date as written, before any offset
  const t = strptime(value, fmt, true);
  const d = new Date(t.ms);
  return isoformat(fromFields(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())!);
}

// ---------- fuzzy parsing: python-dateutil's parser, see dateutil.ts ----------

/**
 * dateutil.parser.parse(value, fuzzy=True) in UTC, as IntelMQ's DateTime uses it: null where
 * dateutil raises. A time without zone is UTC.
 */
export function parseFuzzy(input: string, opts: Omit<DateutilOptions, "fuzzy"> = {}): UtcTime | null {
  return dateutilParse(input, { ...opts, fuzzy: true });
}

/** DateTime.from_fuzzy: ValueError where dateutil fails. */
export function fromFuzzy(value: unknown): string {
  if (typeof value !== "string") throw typeError("Parser must be a string or character stream");
  const t = parseFuzzy(value);
  if (!t) throw valueError(`String does not contain a date: ${value}`);
  return isoformat(t);
}

/** DateTime.sanitize: ISO as is, else fuzzy; null if not parseable. */
export function sanitizeDateTime(value: unknown): string | null {
  let v = value;
  if (v instanceof Uint8Array) v = new TextDecoder().decode(v);
  if (typeof v !== "string") return null;
  if (matchesIsoFormat(v)) return pyStrip(v) || null;
  const t = parseFuzzy(v);
  if (!t) return null;
  try { return isoformat(t); } catch { return null; }
}
