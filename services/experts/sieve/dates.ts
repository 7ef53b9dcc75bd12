// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Times for `:before` / `:after` and `+=` / `-=`, in microseconds since the epoch (UTC), as
 * IntelMQ's sieve computes them: an absolute time in ISO 8601 form (IntelMQ uses pendulum's
 * parser; without a zone it is UTC) or `<n> <unit>` relative to now, and event times in the
 * harmonised form only (DateTime.from_isoformat: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`).
 */

/** Minutes per unit (IntelMQ's utils.TIMESPANS). */
const TIMESPANS: Readonly<Record<string, number>> = {
  second: 1 / 60, minute: 1, hour: 60, day: 24 * 60, week: 7 * 24 * 60, month: 30 * 24 * 60, year: 365 * 24 * 60,
};

/** IntelMQ's parse_relative(): minutes of `<n> <unit>[s]`, or null when it is no such text. */
export function parseRelativeMinutes(text: string): number | null {
  const m = /^(\d+)\s+(\w+[^s])s?$/.exec(text.trim());
  if (!m || !Object.hasOwn(TIMESPANS, m[2]!)) return null;
  return Number(m[1]) * TIMESPANS[m[2]!]!;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysIn(year: number, month: number): number {
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : DAYS[month - 1]!;
}

/** Microseconds of a UTC date and time; null for a day, hour... out of range. */
function utcMicros(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string | undefined): number | null {
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  const us = frac ? Number(frac.slice(0, 6).padEnd(6, "0")) : 0;
  return date.getTime() * 1000 + us;
}

const ISO_DATE = /^(\d{4})(?:-?(\d{2})(?:-?(\d{2}))?)?$/;
const ISO_DATETIME = /^(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** An absolute time as IntelMQ's sieve reads it (ISO 8601 dates and times; no zone means UTC); null if it is none. */
export function parseAbsoluteMicros(text: string): number | null {
  const t = text.trim();
  const d = ISO_DATE.exec(t);
  if (d) return utcMicros(+d[1]!, d[2] ? +d[2] : 1, d[3] ? +d[3] : 1, 0, 0, 0, undefined);
  const m = ISO_DATETIME.exec(t);
  if (!m) return null;
  const base = utcMicros(+m[1]!, +m[2]!, +m[3]!, +m[4]!, m[5] ? +m[5] : 0, m[6] ? +m[6] : 0, m[7]);
  if (base === null) return null;
  const zone = m[8];
  if (!zone || zone.toUpperCase() === "Z") return base;
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
  const offset = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60e6;
  return z[1] === "+" ? base - offset : base + offset;
}

const HARMONISED = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?\+00:00$/;

/** IntelMQ's DateTime.from_isoformat() of a harmonised time; null where it raises ValueError. */
export function eventMicros(value: string): number | null {
  // Rules often test the same time field of one event: parse it once.
  if (value === lastValue) return lastMicros;
  const m = HARMONISED.exec(value);
  lastValue = value;
  lastMicros = m ? utcMicros(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7]) : null;
  return lastMicros;
}
let lastValue: string | null = null;
let lastMicros: number | null = null;

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** Python's datetime.isoformat() of a UTC time: `.ffffff` only when there are microseconds. */
export function isoformatMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms);
  const micro = d.getUTCMilliseconds() * 1000 + (us - ms * 1000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T`
    + `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`
    + (micro ? `.${pad(Math.round(micro), 6)}` : "") + "+00:00";
}
