// SPDX-License-Identifier: AGPL-3.0-only
// DateTime: IntelMQ's canonical form `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, its converters,
// Python's strptime and a fuzzy parser for the date formats feeds use (after dateutil).
import { ImqError, ErrorCode } from "../errors/index.js";
import { pyParseFloat, pyParseInt, pyStrip } from "./py.js";

/** A point in time in UTC with microsecond precision (ms since epoch + extra µs). */
export interface UtcTime {
  /** milliseconds since the epoch (integer) */
  ms: number;
  /** microseconds within the millisecond, 0..999 */
  us: number;
}

/** Python's ValueError, as one of our errors (the name is IntelMQ's/Python's). */
export function valueError(message: string): ImqError {
  return new ImqError(ErrorCode.InvalidArgument, "ValueError", message);
}
export function typeError(message: string): ImqError {
  return new ImqError(ErrorCode.InvalidArgument, "TypeError", message);
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
export function fromFields(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, micro = 0, offsetSec = 0): UtcTime | null {
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

export function daysInMonth(y: number, m: number): number {
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
      let src = DIRECTIVES[d];
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

// ---------- fuzzy parsing (dateutil.parser.parse(value, fuzzy=True) for real-world formats) ----------

const MONTH_NAMES: Record<string, number> = {};
MONTHS.forEach((m, i) => { MONTH_NAMES[m] = i + 1; MONTH_NAMES[m.slice(0, 3)] = i + 1; });
MONTH_NAMES["sept"] = 9;
const WEEKDAY_NAMES = new Set([...WEEKDAYS, ...WEEKDAYS.map((w) => w.slice(0, 3))]);
const UTC_NAMES = new Set(["utc", "gmt", "z", "zulu", "ut"]);
const JUMP = new Set([" ", ".", ",", ";", "-", "/", "'", "at", "on", "and", "ad", "m", "t", "of", "st", "nd", "rd", "th"]);

const ISO_FULL = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?\s*(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?)?$/;

/** A fuzzy parse like dateutil's: null where dateutil raises. Naive times are UTC. */
export function parseFuzzy(input: string): UtcTime | null {
  const s = input.trim();
  if (!s) return null;
  const iso = ISO_FULL.exec(s);
  if (iso) {
    const off = iso[8] ? tzOffset(iso[8]) : 0;
    if (off === null) return null;
    return fromFields(+iso[1]!, +iso[2]!, +iso[3]!, iso[4] ? +iso[4] : 0, iso[5] ? +iso[5] : 0,
      iso[6] ? +iso[6] : 0, iso[7] ? fracToMicro(iso[7]) : 0, off);
  }
  // Bare epochs are rejected as dateutil does: feeds with epochs name a converter (time_format).
  return tokenParse(s);
}

function fracToMicro(f: string): number {
  return +(f + "000000").slice(0, 6);
}

function tzOffset(z: string): number | null {
  if (UTC_NAMES.has(z.toLowerCase())) return 0;
  const m = /^([+-])(\d\d):?(\d\d)?$/.exec(z);
  if (!m) return null;
  const h = +m[2]!, mi = m[3] ? +m[3] : 0;
  if (h > 23 || mi > 59) return null;
  return (h * 3600 + mi * 60) * (m[1] === "-" ? -1 : 1);
}

/** Split like dateutil's _timelex: runs of letters, runs of digits (with '.' or ',' decimals), single other chars. */
function lex(s: string): string[] {
  const out: string[] = [];
  const re = /[A-Za-z\u00c0-\uffff]+|\d+(?:[.,]\d+)?|\s+|./g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[0]);
  return out;
}

interface Ymd { vals: number[]; lens: number[]; mIdx: number; yIdx: number }

function tokenParse(s: string): UtcTime | null {
  const tokens = lex(s);
  const ymd: Ymd = { vals: [], lens: [], mIdx: -1, yIdx: -1 };
  let h: number | null = null, mi: number | null = null, sec: number | null = null, micro = 0;
  let ampm: number | null = null;
  let off: number | null = null;
  let found = false;
  const addYmd = (v: number, len: number, isMonth = false) => {
    if (isMonth) ymd.mIdx = ymd.vals.length;
    else if (len > 2) ymd.yIdx = ymd.vals.length;
    ymd.vals.push(v);
    ymd.lens.push(len);
  };
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!;
    const lower = t.toLowerCase();
    if (/^\d/.test(t)) {
      found = true;
      const num = t.replace(",", ".");
      const intPart = num.split(".")[0]!;
      const len = intPart.length;
      // HH:MM[:SS[.f]]
      if (tokens[i + 1] === ":" && h === null && /^\d+$/.test(tokens[i + 2] ?? "")) {
        h = +intPart;
        mi = +tokens[i + 2]!;
        i += 2;
        if (tokens[i + 1] === ":" && /^\d/.test(tokens[i + 2] ?? "")) {
          const sv = tokens[i + 2]!.replace(",", ".");
          const [si, sf] = sv.split(".");
          sec = +si!;
          micro = sf ? fracToMicro(sf) : 0;
          i += 2;
        }
        continue;
      }
      if (ymd.vals.length === 0 && (len === 8 || len === 12 || len === 14) && !num.includes(".")) {
        // YYYYMMDD[hhmm[ss]]
        addYmd(+intPart.slice(0, 4), 4); addYmd(+intPart.slice(4, 6), 2); addYmd(+intPart.slice(6, 8), 2);
        if (len >= 12) { h = +intPart.slice(8, 10); mi = +intPart.slice(10, 12); }
        if (len === 14) sec = +intPart.slice(12, 14);
        // compact time after 'T': 20190701T151515
        continue;
      }
      if (len === 6 && ymd.vals.length === 0 && !num.includes(".") && h === null && tokens[i - 1] !== "T") {
        addYmd(+intPart.slice(0, 2), 2); addYmd(+intPart.slice(2, 4), 2); addYmd(+intPart.slice(4, 6), 2);
        continue;
      }
      if ((len === 6 || len === 4) && h === null && ymd.vals.length >= 3 && /[Tt ]/.test(tokens[i - 1] ?? "")) {
        h = +intPart.slice(0, 2); mi = +intPart.slice(2, 4);
        if (len === 6) sec = +intPart.slice(4, 6);
        continue;
      }
      // number followed by am/pm
      const nx = (tokens[i + 1] === " " ? tokens[i + 2] : tokens[i + 1])?.toLowerCase();
      if ((nx === "am" || nx === "pm" || nx === "a" || nx === "p") && h === null && +intPart <= 12) {
        h = +intPart; mi = 0; sec = 0;
        continue;
      }
      if (ymd.vals.length < 3) {
        addYmd(+intPart, len);
        continue;
      }
      continue;
    }
    if (/^[A-Za-z]/.test(t)) {
      if (MONTH_NAMES[lower] !== undefined) { addYmd(MONTH_NAMES[lower]!, 0, true); found = true; continue; }
      if (WEEKDAY_NAMES.has(lower)) continue;
      if (lower === "am" || lower === "pm" || lower === "a" || lower === "p") {
        if (h !== null && h <= 12) ampm = lower.startsWith("p") ? 1 : 0;
        continue;
      }
      if (UTC_NAMES.has(lower) && h !== null) {
        off = 0;
        // GMT+3 means "my time +3 is GMT": dateutil reverses the sign
        const sign = tokens[i + 1];
        if ((sign === "+" || sign === "-") && /^\d+$/.test(tokens[i + 2] ?? "")) {
          const o = numOffset(tokens[i + 2]!);
          if (o !== null) off = sign === "+" ? -o : o;
          i += 2;
        }
        continue;
      }
      if (lower === "t" || JUMP.has(lower)) continue;
      // other words: unknown time zone names are ignored by dateutil (naive), fuzzy skips the rest
      continue;
    }
    if ((t === "+" || t === "-") && h !== null && /^\d+$/.test(tokens[i + 1] ?? "") && off === null) {
      let digits = tokens[i + 1]!;
      let used = 1;
      if (digits.length <= 2 && tokens[i + 2] === ":" && /^\d\d$/.test(tokens[i + 3] ?? "")) { digits += tokens[i + 3]; used = 3; }
      const o = numOffset(digits);
      if (o !== null) { off = t === "+" ? o : -o; i += used; continue; }
    }
  }
  if (!found) return null;
  if (h !== null && ampm !== null) h = ampm ? (h % 12) + 12 : h % 12;
  const r = resolveYmd(ymd);
  if (!r) return null;
  const now = new Date();
  const year = r.y ?? now.getUTCFullYear();
  const month = r.m ?? (r.y !== null || r.d !== null ? (r.y !== null && r.d === null ? 1 : now.getUTCMonth() + 1) : now.getUTCMonth() + 1);
  const day = r.d ?? (r.y !== null && r.m === null ? 1 : now.getUTCDate());
  return fromFields(year, month, r.d === null && r.m !== null && r.y !== null ? 1 : day, h ?? 0, mi ?? 0, sec ?? 0, micro, off ?? 0);
}

function numOffset(d: string): number | null {
  let h: number, m = 0;
  if (d.length === 4) { h = +d.slice(0, 2); m = +d.slice(2); }
  else if (d.length <= 2) h = +d;
  else return null;
  if (h > 23 || m > 59) return null;
  return h * 3600 + m * 60;
}

function convertYear(y: number, len: number): number {
  if (len > 2 || y >= 100) return y;
  const cur = new Date().getUTCFullYear();
  const century = cur - (cur % 100);
  let full = y + century;
  if (full >= cur + 50) full -= 100;
  else if (full < cur - 50) full += 100;
  return full;
}

/** dateutil's _ymd.resolve_ymd with dayfirst=False, yearfirst=False. */
function resolveYmd(ymd: Ymd): { y: number | null; m: number | null; d: number | null } | null {
  const v = ymd.vals;
  const L = v.length;
  let y: number | null = null, m: number | null = null, d: number | null = null;
  let yLen = 4;
  const mI = ymd.mIdx;
  if (L > 3) return null;
  if (L === 0) return { y, m, d };
  if (L === 1 || (mI >= 0 && L === 2)) {
    let other: number;
    if (mI >= 0) { m = v[mI]!; other = v[mI === 0 ? L - 1 : mI - 1]!; if (L === 1) other = NaN; }
    else other = v[0]!;
    if (!Number.isNaN(other) && (L > 1 || mI < 0)) {
      const oi = mI >= 0 ? (mI === 0 ? L - 1 : mI - 1) : 0;
      if (other > 31 || ymd.yIdx === oi) { y = other; yLen = ymd.lens[oi]!; } else d = other;
    }
  } else if (L === 2) {
    if (v[0]! > 31 || ymd.yIdx === 0) { y = v[0]!; m = v[1]!; yLen = ymd.lens[0]!; }
    else if (v[1]! > 31 || ymd.yIdx === 1) { m = v[0]!; y = v[1]!; yLen = ymd.lens[1]!; }
    else { m = v[0]!; d = v[1]!; }
  } else {
    if (mI === 0) {
      if (v[1]! > 31 || ymd.yIdx === 1) { m = v[0]!; y = v[1]!; d = v[2]!; yLen = ymd.lens[1]!; }
      else { m = v[0]!; d = v[1]!; y = v[2]!; yLen = ymd.lens[2]!; }
    } else if (mI === 1) {
      if (v[0]! > 31 || ymd.yIdx === 0) { y = v[0]!; m = v[1]!; d = v[2]!; yLen = ymd.lens[0]!; }
      else { d = v[0]!; m = v[1]!; y = v[2]!; yLen = ymd.lens[2]!; }
    } else if (mI === 2) {
      if (v[1]! > 31) { d = v[0]!; y = v[1]!; m = v[2]!; yLen = ymd.lens[1]!; }
      else { y = v[0]!; d = v[1]!; m = v[2]!; yLen = ymd.lens[0]!; }
    } else if (v[0]! > 31 || ymd.yIdx === 0) { y = v[0]!; m = v[1]!; d = v[2]!; yLen = ymd.lens[0]!; }
    else if (v[0]! > 12) { d = v[0]!; m = v[1]!; y = v[2]!; yLen = ymd.lens[2]!; }
    else { m = v[0]!; d = v[1]!; y = v[2]!; yLen = ymd.lens[2]!; }
  }
  if (y !== null) y = convertYear(y, yLen);
  return { y, m, d };
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
