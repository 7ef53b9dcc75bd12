// SPDX-License-Identifier: AGPL-3.0-only
/**
 * python-dateutil's parser.parse() (2.9), as IntelMQ's DateTime uses it (no tzinfos, default
 * parserinfo, local time zone UTC), written from its documented and observed behaviour:
 * the same tokens, the same readings of numbers, names, offsets and zone names, the same failures.
 * shared/harmonization/fixtures/dateutil-cases.jsonl holds what dateutil itself gives for a
 * broad table of inputs; dateutil.test.ts checks this parser against it.
 */
import type { UtcTime } from "./datetime.js";
import { cmp, Fail, fail, floaty, fracTimes, hasFraction, isdigitStr, minSec, parseMs, pyInt, splitTokens, toDecimal } from "./dateutil-lexer.js";
import { ampm, convertYear, daysIn, hms, jump, LOCAL_ZONE_NAMES, month, pertain, tzoffsetOf, utczone, UTCZONE, weekday, Ymd } from "./dateutil-info.js";

/** Options of one parse. */
export interface DateutilOptions {
  /** Skip what is no part of a date (dateutil's fuzzy=True, as IntelMQ parses). Default true. */
  fuzzy?: boolean;
  /**
   * The date that fills the parts a text lacks, and whose year places two-digit years
   * (dateutil's default and parserinfo year). Default: today in UTC.
   */
  today?: { year: number; month: number; day: number };
}

// ---- the parse itself (dateutil's parser._parse) ----

interface Result {
  centurySpecified: boolean;
  year: number | null; month: number | null; day: number | null; weekday: number | null;
  hour: number | null; minute: number | null; second: number | null; microsecond: number | null;
  tzname: string | null; tzoffset: number | null; ampm: number | null;
}

function couldBeTzname(res: Result, tzoffset: number | null, token: string): boolean {
  return res.hour !== null && res.tzname === null && tzoffset === null && token.length <= 5
    && (/^[A-Z]+$/.test(token) || UTCZONE.includes(token));
}

function ampmValid(res: Result, fuzzy: boolean): boolean {
  let ok = true;
  if (fuzzy && res.ampm !== null) ok = false;
  if (res.hour === null) {
    if (fuzzy) ok = false;
    else fail("No hour specified with AM or PM flag.");
  } else if (!(res.hour >= 0 && res.hour <= 12)) {
    if (fuzzy) ok = false;
    else fail("Invalid hour specified for 12-hour clock.");
  }
  return ok;
}

function adjustAmpm(hour: number, flag: number): number {
  if (hour < 12 && flag === 1) return hour + 12;
  if (hour === 12 && flag === 0) return 0;
  return hour;
}

/** Where the h/m/s label of the number at idx is, if it has one (dateutil's _find_hms_idx). */
function findHmsIdx(idx: number, t: readonly string[]): number | null {
  const n = t.length;
  if (idx + 1 < n && hms(t[idx + 1]) !== undefined) return idx + 1;
  if (idx + 2 < n && t[idx + 1] === " " && hms(t[idx + 2]) !== undefined) return idx + 2;
  if (idx > 0 && hms(t[idx - 1]) !== undefined) return idx - 1;
  if (idx > 1 && idx === n - 1 && t[idx - 1] === " " && hms(t[idx - 2]) !== undefined) return idx - 2;
  return null;
}

function assignHms(res: Result, repr: string, which: number): void {
  const value = toDecimal(repr);
  if (which === 0) {
    res.hour = value.int;
    if (hasFraction(value)) res.minute = fracTimes(value, 60);
  } else if (which === 1) {
    [res.minute, res.second] = minSec(value);
  } else if (which === 2) {
    [res.second, res.microsecond] = parseMs(repr);
  }
}

function parseNumber(t: string[], idx: number, ymd: Ymd, res: Result, fuzzy: boolean): number {
  const repr = t[idx]!;
  const value = toDecimal(repr);
  const len = [...repr].length;
  const n = t.length;
  if (ymd.length === 3 && (len === 2 || len === 4) && res.hour === null
    && (idx + 1 >= n || (t[idx + 1] !== ":" && hms(t[idx + 1]) === undefined))) {
    // 19990101T23[59]
    res.hour = pyInt(repr.slice(0, 2));
    if (len === 4) res.minute = pyInt(repr.slice(2));
  } else if (len === 6 || (len > 6 && repr.indexOf(".") === 6)) {
    // YYMMDD or HHMMSS[.ss]
    if (ymd.length === 0 && !repr.includes(".")) {
      ymd.append(repr.slice(0, 2));
      ymd.append(repr.slice(2, 4));
      ymd.append(repr.slice(4));
    } else {
      res.hour = pyInt(repr.slice(0, 2));
      res.minute = pyInt(repr.slice(2, 4));
      [res.second, res.microsecond] = parseMs(repr.slice(4));
    }
  } else if (len === 8 || len === 12 || len === 14) {
    // YYYYMMDD[hhmm[ss]]
    ymd.append(repr.slice(0, 4), "Y");
    ymd.append(repr.slice(4, 6));
    ymd.append(repr.slice(6, 8));
    if (len > 8) {
      res.hour = pyInt(repr.slice(8, 10));
      res.minute = pyInt(repr.slice(10, 12));
      if (len > 12) res.second = pyInt(repr.slice(12));
    }
  } else if (findHmsIdx(idx, t) !== null) {
    // HH[ ]h or MM[ ]m or SS[.ss][ ]s
    const at = findHmsIdx(idx, t)!;
    let which: number;
    if (at > idx) {
      which = hms(t[at])!;
      idx = at;
    } else {
      which = hms(t[at])! + 1;
    }
    assignHms(res, repr, which);
  } else if (idx + 2 < n && t[idx + 1] === ":") {
    // HH:MM[:SS[.ss]]
    res.hour = value.int;
    [res.minute, res.second] = minSec(toDecimal(t[idx + 2]!));
    if (idx + 4 < n && t[idx + 3] === ":") {
      [res.second, res.microsecond] = parseMs(t[idx + 4]);
      idx += 2;
    }
    idx += 2;
  } else if (idx + 1 < n && (t[idx + 1] === "-" || t[idx + 1] === "/" || t[idx + 1] === ".")) {
    const sep = t[idx + 1];
    ymd.append(repr);
    if (idx + 2 < n && !jump(t[idx + 2])) {
      if (isdigitStr(t[idx + 2]!)) ymd.append(t[idx + 2]);
      else {
        const m = month(t[idx + 2]);
        if (m === undefined) fail("no month");
        ymd.append(m, "M");
      }
      if (idx + 3 < n && t[idx + 3] === sep) {
        const m = month(t[idx + 4]);
        if (m !== undefined) ymd.append(m, "M");
        else ymd.append(t[idx + 4]);
        idx += 2;
      }
      idx += 1;
    }
    idx += 1;
  } else if (idx + 1 >= n || jump(t[idx + 1])) {
    if (idx + 2 < n && ampm(t[idx + 2]) !== undefined) {
      // 12 am
      res.hour = adjustAmpm(value.int, ampm(t[idx + 2])!);
      idx += 1;
    } else {
      ymd.append(value);
    }
    idx += 1;
  } else if (ampm(t[idx + 1]) !== undefined && cmp(value, 0) >= 0 && cmp(value, 24) < 0) {
    // 12am
    res.hour = adjustAmpm(value.int, ampm(t[idx + 1])!);
    idx += 1;
  } else if (ymd.couldBeDay(value)) {
    ymd.append(value);
  } else if (!fuzzy) {
    fail("unparsed number");
  }
  return idx;
}

function parseTokens(text: string, fuzzy: boolean, currentYear: number): Result {
  const res: Result = {
    centurySpecified: false, year: null, month: null, day: null, weekday: null, hour: null, minute: null, second: null, microsecond: null,
    tzname: null, tzoffset: null, ampm: null,
  };
  const l = splitTokens(text);
  const ymd = new Ymd();
  const n = l.length;
  let i = 0;
  while (i < n) {
    const tok = l[i]!;
    if (floaty(tok)) {
      i = parseNumber(l, i, ymd, res, fuzzy);
    } else if (weekday(tok) !== undefined) {
      res.weekday = weekday(tok)!;
    } else if (month(tok) !== undefined) {
      ymd.append(month(tok)!, "M");
      if (i + 1 < n) {
        if (l[i + 1] === "-" || l[i + 1] === "/") {
          // Jan-01[-99]
          const sep = l[i + 1];
          ymd.append(l[i + 2]);
          if (i + 3 < n && l[i + 3] === sep) {
            ymd.append(l[i + 4]);
            i += 2;
          }
          i += 2;
        } else if (i + 4 < n && l[i + 1] === " " && l[i + 3] === " " && pertain(l[i + 2]!)) {
          // Jan of 01: the number is a year
          if (isdigitStr(l[i + 4]!)) ymd.append(String(convertYear(pyInt(l[i + 4]), false, currentYear)), "Y");
          i += 4;
        }
      }
    } else if (ampm(tok) !== undefined) {
      if (ampmValid(res, fuzzy)) {
        res.hour = adjustAmpm(res.hour!, ampm(tok)!);
        res.ampm = ampm(tok)!;
      }
    } else if (couldBeTzname(res, res.tzoffset, tok)) {
      res.tzname = tok;
      res.tzoffset = tzoffsetOf(tok);
      // "GMT+3" means: this time plus 3 hours is GMT, so the sign is reversed
      if (i + 1 < n && (l[i + 1] === "+" || l[i + 1] === "-")) {
        l[i + 1] = l[i + 1] === "+" ? "-" : "+";
        res.tzoffset = null;
        if (utczone(tok)) res.tzname = null;
      }
    } else if (res.hour !== null && (tok === "+" || tok === "-")) {
      const sign = tok === "+" ? 1 : -1;
      const next = l[i + 1];
      if (next === undefined) fail("index");
      const len = [...next!].length;
      let h: number, m: number;
      if (len === 4) {
        // -0300
        h = pyInt(next!.slice(0, 2));
        m = pyInt(next!.slice(2));
      } else if (i + 2 < n && l[i + 2] === ":") {
        // -03:00
        h = pyInt(next);
        m = pyInt(l[i + 3]);
        i += 2;
      } else if (len <= 2) {
        // -[0]3
        h = pyInt(next!.slice(0, 2));
        m = 0;
      } else {
        return fail(text);
      }
      res.tzoffset = sign * (h * 3600 + m * 60);
      // -0300 (BRST)
      if (i + 5 < n && jump(l[i + 2]) && l[i + 3] === "(" && l[i + 5] === ")" && l[i + 4]!.length >= 3
        && couldBeTzname(res, null, l[i + 4]!)) {
        res.tzname = l[i + 4]!;
        i += 4;
      }
      i += 1;
    } else if (!(jump(tok) || fuzzy)) {
      fail(text);
    }
    i += 1;
  }
  const [year, mon, day] = ymd.resolve();
  res.year = year;
  res.month = mon;
  res.day = day;
  // parserinfo.validate
  if (res.year !== null) res.year = convertYear(res.year, ymd.centurySpecified, currentYear);
  if ((res.tzoffset === 0 && !res.tzname) || res.tzname === "Z" || res.tzname === "z") {
    res.tzname = "UTC";
    res.tzoffset = 0;
  } else if (res.tzoffset !== 0 && res.tzname && utczone(res.tzname)) {
    res.tzoffset = 0;
  }
  res.centurySpecified = ymd.centurySpecified;
  return res;
}

function todayUtc(): { year: number; month: number; day: number } {
  const d = new Date();
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * dateutil.parser.parse(text, fuzzy=...) converted to UTC as IntelMQ does (a time without zone is
 * UTC); null where dateutil raises (no date, an impossible date, an offset of a day or more, a
 * result beyond year 1..9999).
 */
export function dateutilParse(text: string, opts: DateutilOptions = {}): UtcTime | null {
  const fuzzy = opts.fuzzy ?? true;
  let res: Result;
  const today = opts.today ?? todayUtc();
  try {
    res = parseTokens(text, fuzzy, today.year);
  } catch (e) {
    if (e instanceof Fail) return null;
    throw e;
  }
  if (res.year === null && res.month === null && res.day === null && res.weekday === null && res.hour === null
    && res.minute === null && res.second === null && res.microsecond === null && res.tzname === null && res.tzoffset === null
    && res.ampm === null) return null;
  // _build_naive: the parsed parts over today at midnight; a missing day past the month's end is its last day
  const year = res.year ?? today.year;
  const mon = res.month ?? today.month;
  let day = res.day;
  if (day === null) {
    if (mon < 1 || mon > 12) return null;
    day = Math.min(today.day, daysIn(year, mon));
  }
  let t = naive(year, mon, day, res.hour ?? 0, res.minute ?? 0, res.second ?? 0, res.microsecond ?? 0);
  if (!t) return null;
  if (res.weekday !== null && !res.day) {
    // relativedelta(weekday=...): forward to that weekday (0 = Monday)
    const wd = (new Date(t.ms).getUTCDay() + 6) % 7;
    t = { ms: t.ms + ((7 - wd + res.weekday) % 7) * 86400000, us: t.us };
    if (t.ms > MAX_MS) return null;
  }
  // _build_tzaware: a local zone name (UTC), an offset, or naive; IntelMQ then converts to UTC
  const offset = res.tzname !== null && LOCAL_ZONE_NAMES.has(res.tzname) ? 0 : res.tzoffset ?? 0;
  if (Math.abs(offset) >= 86400) return null;
  const utc = { ms: t.ms - offset * 1000, us: t.us };
  if (utc.ms < MIN_MS || utc.ms > MAX_MS) return null;
  return utc;
}

/** datetime(...) of Python: null where it raises (a field out of range). */
function naive(y: number, mo: number, d: number, h: number, mi: number, s: number, us: number): UtcTime | null {
  if (!(y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) && h >= 0 && h <= 23 && mi >= 0 && mi <= 59
    && s >= 0 && s <= 59 && us >= 0 && us <= 999999)) return null;
  if (y >= 100) return { ms: Date.UTC(y, mo - 1, d, h, mi, s) + Math.floor(us / 1000), us: us % 1000 };
  // Date.UTC reads years 0..99 as 1900..1999
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return { ms: date.getTime() + Math.floor(us / 1000), us: us % 1000 };
}

/** 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999 in ms since the epoch: Python's datetime range. */
const MIN_MS = -62135596800000;
const MAX_MS = 253402300799999;
