// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What python-dateutil's parser knows (see dateutil.ts): the words of its default parserinfo and
 * the year, month and day candidates of a text (_ymd).
 */
import { cmp, fail, isdigitStr, pyInt, type Dec } from "./dateutil-lexer.js";

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
export const UTCZONE = ["UTC", "GMT", "Z", "z"];
const UTCZONE_LOWER = new Set(UTCZONE.map((z) => z.toLowerCase()));
/** time.tzname of a process in UTC: such a name means local time, which is UTC. */
export const LOCAL_ZONE_NAMES = new Set(["UTC"]);

export const jump = (s: string | undefined): boolean => s !== undefined && JUMP.has(s.toLowerCase());
export const weekday = (s: string): number | undefined => WEEKDAYS.get(s.toLowerCase());
export const month = (s: string | undefined): number | undefined => {
  if (s === undefined) return fail("index");
  const m = MONTHS.get(s.toLowerCase());
  return m === undefined ? undefined : m + 1;
};
export const hms = (s: string | undefined): number | undefined => (s === undefined ? undefined : HMS.get(s.toLowerCase()));
export const ampm = (s: string | undefined): number | undefined => (s === undefined ? undefined : AMPM.get(s.toLowerCase()));
export const pertain = (s: string): boolean => s.toLowerCase() === "of";
export const utczone = (s: string): boolean => UTCZONE_LOWER.has(s.toLowerCase());
/** parserinfo.tzoffset: its lookup is in lower-case keys with the name as written, so only "z" is found. */
export const tzoffsetOf = (s: string): number | null => (UTCZONE_LOWER.has(s) ? 0 : null);

export function convertYear(year: number, centurySpecified: boolean, current: number): number {
  if (year < 100 && !centurySpecified) {
    year += current - (current % 100);
    if (year >= current + 50) year -= 100;
    else if (year < current - 50) year += 100;
  }
  return year;
}

export function daysIn(year: number, m: number): number {
  if (m < 1 || m > 12) return fail("bad month number");
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

// ---- year, month and day candidates (dateutil's _ymd) ----

export class Ymd {
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
