// SPDX-License-Identifier: AGPL-3.0-only
/**
 * python-dateutil's parser.parse() (2.9), as IntelMQ's DateTime uses it (no tzinfos, default
 * parserinfo, local time zone UTC), written from its documented and observed behaviour:
 * the same tokens, the same readings of numbers, names, offsets and zone names, the same failures.
 * shared/harmonization/fixtures/dateutil-cases.jsonl holds what dateutil itself gives for a
 * broad table of inputs; dateutil.test.ts checks this parser against it.
 */
import type { UtcTime } from "./datetime.js";

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

/** dateutil gives up on the text (its ParserError, ValueError or OverflowError). */
class Fail extends Error {}
const fail = (why = "no date"): never => { throw new Fail(why); };

// ---- characters as Python's str methods see them ----

const LETTER = /\p{L}/u;
const DECIMAL = /\p{Nd}/u;
/** Digits that are no decimal digits (superscripts, circled digits...): isdigit() but not int()-able. */
const OTHER_DIGIT: readonly [number, number][] = [[0xb2, 0xb3], [0xb9, 0xb9], [0x1369, 0x1371], [0x19da, 0x19da], [0x2070, 0x2070],
  [0x2074, 0x2079], [0x2080, 0x2089], [0x2460, 0x2468], [0x2474, 0x247c], [0x2488, 0x2490], [0x24ea, 0x24ea], [0x24f5, 0x24fd],
  [0x24ff, 0x24ff], [0x2776, 0x277e], [0x2780, 0x2788], [0x278a, 0x2792], [0x10a40, 0x10a43], [0x10e60, 0x10e68],
  [0x11052, 0x1105a], [0x1f100, 0x1f10a]];
const ASCII = /^[\x00-\x7f]*$/;
/** str.isspace() */
const SPACE = /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

function isword(c: string): boolean {
  const cp = c.charCodeAt(0);
  if (cp < 0x80) return (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122);
  return LETTER.test(c);
}
function isnum(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if (cp < 0x80) return cp >= 48 && cp <= 57;
  if (cp < 0xb2) return false;
  if (DECIMAL.test(c)) return true;
  return OTHER_DIGIT.some(([a, b]) => cp >= a && cp <= b);
}
/** str.isdigit() of a whole token. */
function isdigitStr(s: string): boolean {
  if (s === "") return false;
  for (const c of s) if (!isnum(c)) return false;
  return true;
}

/** Decimal digits of any script as ASCII digits (Python's int(), float() and Decimal() read them alike). */
function asciiDigits(s: string): string {
  if (ASCII.test(s)) return s;
  let out = "";
  for (const c of s) {
    if (c.length === 1 && c < "\u0080") { out += c; continue; }
    if (DECIMAL.test(c)) {
      // Unicode lays decimal digits out in runs that start at zero
      let cp = c.codePointAt(0)!;
      let n = 0;
      while (DECIMAL.test(String.fromCodePoint(cp - 1))) { cp--; n++; }
      out += String(n % 10);
    } else out += c;
  }
  return out;
}

// ---- the lexer (dateutil's _timelex) ----

function splitTokens(input: string): string[] {
  const text = asciiDigits(input);
  const chars = (ASCII.test(text) ? text.split("") : [...text]).filter((c) => c !== "\0");
  const out: string[] = [];
  let pos = 0;
  const pending: string[] = [];
  for (;;) {
    if (pending.length) { out.push(pending.shift()!); continue; }
    if (pos >= chars.length) break;
    let token = "";
    let state: "" | "a" | "0" | "a." | "0." = "";
    let seenLetters = false;
    while (pos < chars.length) {
      const c = chars[pos]!;
      if (state === "") {
        token = c;
        pos++;
        if (isword(c)) state = "a";
        else if (isnum(c)) state = "0";
        else if (SPACE.test(c)) { token = " "; break; } else break;
      } else if (state === "a") {
        seenLetters = true;
        if (isword(c)) token += c;
        else if (c === ".") { token += c; state = "a."; } else break;
        pos++;
      } else if (state === "0") {
        if (isnum(c)) token += c;
        else if (c === "." || (c === "," && token.length >= 2)) { token += c; state = "0."; } else break;
        pos++;
      } else if (state === "a.") {
        seenLetters = true;
        if (c === "." || isword(c)) token += c;
        else if (isnum(c) && token.endsWith(".")) { token += c; state = "0."; } else break;
        pos++;
      } else {
        if (c === "." || isnum(c)) token += c;
        else if (isword(c) && token.endsWith(".")) { token += c; state = "a."; } else break;
        pos++;
      }
    }
    if ((state === "a." || state === "0.") && (seenLetters || count(token, ".") > 1 || token.endsWith(".") || token.endsWith(","))) {
      const parts = token.split(/([.,])/);
      token = parts[0]!;
      for (const p of parts.slice(1)) if (p) pending.push(p);
    }
    if (state === "0." && !token.includes(".")) token = token.replace(/,/g, ".");
    out.push(token);
  }
  return out;
}

function count(s: string, c: string): number {
  let n = 0;
  for (const x of s) if (x === c) n++;
  return n;
}

// ---- numbers as Python reads them ----

/** Python's float() accepts the token (after the lexer only these shapes reach it). */
function floaty(tok: string): boolean {
  const c = tok.charCodeAt(0);
  if (c >= 48 && c <= 57) return /^\d+(?:\.\d+)?$/.test(tok);
  return tok.length >= 3 && tok.length <= 8 && /^(?:inf|infinity|nan)$/i.test(tok);
}

/** A finite decimal number: integer digits and fraction digits (Python's Decimal of a token). */
interface Dec { int: number; frac: string }
function toDecimal(s: string): Dec {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return fail(`could not convert ${s} to decimal`);
  return { int: Number(m[1]), frac: m[2] ?? "" };
}
const hasFraction = (d: Dec): boolean => /[1-9]/.test(d.frac);
/** int(n * (d % 1)): the whole part of n times the fraction, exactly. */
function fracTimes(d: Dec, n: number): number {
  if (!hasFraction(d)) return 0;
  return Number((BigInt(n) * BigInt(d.frac)) / 10n ** BigInt(d.frac.length));
}
/** Compare a decimal with an integer: -1, 0, 1. */
function cmp(d: Dec, n: number): number {
  if (d.int !== n) return d.int < n ? -1 : 1;
  return hasFraction(d) ? 1 : 0;
}
/** Python's int() of a text: decimal digits only here (signs, spaces never reach it from the lexer). */
function pyInt(s: string | undefined): number {
  if (s === undefined) return fail("index");
  if (!/^\d+$/.test(s)) return fail(`invalid literal for int(): ${s}`);
  return Number(s);
}
/** dateutil's _parsems: "S[.ffffff]" to seconds and microseconds. */
function parseMs(s: string | undefined): [number, number] {
  if (s === undefined) return fail("index");
  if (!s.includes(".")) return [pyInt(s), 0];
  const parts = s.split(".");
  if (parts.length !== 2) return fail("too many values to unpack");
  return [pyInt(parts[0]), pyInt(parts[1]!.padEnd(6, "0").slice(0, 6))];
}
/** dateutil's _parse_min_sec: minutes and the seconds of their fraction. */
function minSec(d: Dec): [number, number | null] {
  return [d.int, hasFraction(d) ? fracTimes(d, 60) : null];
}

// ---- the words dateutil knows (parserinfo) ----

const table = (groups: readonly (readonly string[])[]): Map<string, number> =>
  new Map(groups.flatMap((g, i) => g.map((w) => [w.toLowerCase(), i] as [string, number])));
const JUMP = new Set([" ", ".", ",", ";", "-", "/", "'", "at", "on", "and", "ad", "m", "t", "of", "st", "nd", "rd", "th"]);
const WEEKDAYS = table([["Mon", "Monday"], ["Tue", "Tuesday"], ["Wed", "Wednesday"], ["Thu", "Thursday"], ["Fri", "Friday"],
  ["Sat", "Saturday"], ["Sun", "Sunday"]]);
const MONTHS = table([["Jan", "January"], ["Feb", "February"], ["Mar", "March"], ["Apr", "April"], ["May"], ["Jun", "June"],
  ["Jul", "July"], ["Aug", "August"], ["Sep", "Sept", "September"], ["Oct", "October"], ["Nov", "November"], ["Dec", "December"]]);
const HMS = table([["h", "hour", "hours"], ["m", "minute", "minutes"], ["s", "second", "seconds"]]);
const AMPM = table([["am", "a"], ["pm", "p"]]);
/** As written: _could_be_tzname compares case-sensitively, utczone() in lower case. */
const UTCZONE = ["UTC", "GMT", "Z", "z"];
const UTCZONE_LOWER = new Set(UTCZONE.map((z) => z.toLowerCase()));
/** time.tzname of a process in UTC: such a name means local time, which is UTC. */
const LOCAL_ZONE_NAMES = new Set(["UTC"]);

const jump = (s: string | undefined): boolean => s !== undefined && JUMP.has(s.toLowerCase());
const weekday = (s: string): number | undefined => WEEKDAYS.get(s.toLowerCase());
const month = (s: string | undefined): number | undefined => {
  if (s === undefined) return fail("index");
  const m = MONTHS.get(s.toLowerCase());
  return m === undefined ? undefined : m + 1;
};
const hms = (s: string | undefined): number | undefined => (s === undefined ? undefined : HMS.get(s.toLowerCase()));
const ampm = (s: string | undefined): number | undefined => (s === undefined ? undefined : AMPM.get(s.toLowerCase()));
const pertain = (s: string): boolean => s.toLowerCase() === "of";
const utczone = (s: string): boolean => UTCZONE_LOWER.has(s.toLowerCase());
/** parserinfo.tzoffset: its lookup is in lower-case keys with the name as written, so only "z" is found. */
const tzoffsetOf = (s: string): number | null => (UTCZONE_LOWER.has(s) ? 0 : null);

function convertYear(year: number, centurySpecified: boolean, current: number): number {
  if (year < 100 && !centurySpecified) {
    year += current - (current % 100);
    if (year >= current + 50) year -= 100;
    else if (year < current - 50) year += 100;
  }
  return year;
}

function daysIn(year: number, m: number): number {
  if (m < 1 || m > 12) return fail("bad month number");
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

// ---- year, month and day candidates (dateutil's _ymd) ----

class Ymd {
  readonly vals: number[] = [];
  centurySpecified = false;
  dstr: number | null = null;
  mstr: number | null = null;
  ystr: number | null = null;

  get length(): number { return this.vals.length; }

  couldBeDay(v: Dec): boolean {
    if (this.dstr !== null) return false;
    if (this.mstr === null) return cmp(v, 1) >= 0 && cmp(v, 31) <= 0;
    const m = this.vals[this.mstr]!;
    const last = this.ystr === null ? daysIn(2000, m) : daysIn(this.vals[this.ystr]!, m);
    return cmp(v, 1) >= 0 && cmp(v, last) <= 0;
  }

  /** A text token, a decimal or a month number; "Y"/"M" labels what it is known to be. */
  append(val: string | Dec | number | undefined, label: "Y" | "M" | null = null): void {
    if (val === undefined) return fail("index");
    let n: number;
    if (typeof val === "string") {
      if (isdigitStr(val) && [...val].length > 2) label = this.century(label);
      n = pyInt(val);
    } else if (typeof val === "number") {
      n = val;
    } else {
      if (cmp(val, 100) > 0) label = this.century(label);
      n = val.int;
    }
    this.vals.push(n);
    const at = this.vals.length - 1;
    if (label === "M") {
      if (this.mstr !== null) fail("Month is already set");
      this.mstr = at;
    } else if (label === "Y") {
      if (this.ystr !== null) fail("Year is already set");
      this.ystr = at;
    }
  }

  private century(label: "Y" | "M" | null): "Y" {
    this.centurySpecified = true;
    if (label !== null && label !== "Y") fail(label);
    return "Y";
  }

  resolve(): [number | null, number | null, number | null] {
    const v = this.vals;
    const len = v.length;
    const strids: [string, number][] = ([["y", this.ystr], ["m", this.mstr], ["d", this.dstr]] as [string, number | null][])
      .filter((e): e is [string, number] => e[1] !== null);
    if ((len === strids.length && len > 0) || (len === 3 && strids.length === 2)) {
      const by = new Map(strids);
      if (len === 3 && strids.length === 2) {
        const used = new Set(by.values());
        const missing = [0, 1, 2].find((x) => !used.has(x))!;
        const key = ["y", "m", "d"].find((k) => !by.has(k))!;
        by.set(key, missing);
      }
      const get = (k: string): number | null => (by.has(k) ? v[by.get(k)!]! : null);
      return [get("y"), get("m"), get("d")];
    }
    let year: number | null = null, mon: number | null = null, day: number | null = null;
    const mi = this.mstr;
    if (len > 3) fail("More than three YMD values");
    else if (len === 1 || (mi !== null && len === 2)) {
      let other: number;
      if (mi !== null) {
        mon = v[mi]!;
        other = v[mi - 1 < 0 ? len - 1 : mi - 1]!;
      } else other = v[0]!;
      if (len > 1 || mi === null) {
        if (other > 31) year = other;
        else day = other;
      }
    } else if (len === 2) {
      if (v[0]! > 31) [year, mon] = [v[0]!, v[1]!];
      else if (v[1]! > 31) [mon, year] = [v[0]!, v[1]!];
      else [mon, day] = [v[0]!, v[1]!];
    } else if (len === 3) {
      const [a, b, c] = v as [number, number, number];
      if (mi === 0) {
        if (b > 31) [mon, year, day] = [a, b, c];
        else [mon, day, year] = [a, b, c];
      } else if (mi === 1) {
        if (a > 31) [year, mon, day] = [a, b, c];
        else [day, mon, year] = [a, b, c];
      } else if (mi === 2) {
        if (b > 31) [day, year, mon] = [a, b, c];
        else [year, day, mon] = [a, b, c];
      } else if (a > 31 || this.ystr === 0) [year, mon, day] = [a, b, c];
      else if (a > 12) [day, mon, year] = [a, b, c];
      else [mon, day, year] = [a, b, c];
    }
    return [year, mon, day];
  }
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
