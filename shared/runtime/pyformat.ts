// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The parts of Python's str.format() and strftime() that IntelMQ configurations use:
 * `{event[source.ip]}`, `{event[time.source]:%Y-%m-%d}` (file output's format_filename)
 * and `{time[%Y-%m-%d]}` (the HTTP collector's http_url_formatting).
 */
import { pyRepr, pyStr } from "../harmonization/index.js";
import { formatValue } from "./formatspec.js";

/** A date as Python's datetime: `utc` true for aware UTC values (%z/%Z filled), false for naive local time. */
export class PyDateTime {
  constructor(readonly date: Date, readonly micro = 0, readonly utc = true) {}

  /** Python's str(datetime): "YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]". */
  toString(): string {
    const f = this.fields();
    let s = `${pad(f.Y, 4)}-${pad(f.m, 2)}-${pad(f.d, 2)} ${pad(f.H, 2)}:${pad(f.M, 2)}:${pad(f.S, 2)}`;
    if (f.us) s += "." + pad(f.us, 6);
    return this.utc ? s + "+00:00" : s;
  }

  fields() {
    const d = this.date;
    const u = this.utc;
    return {
      Y: u ? d.getUTCFullYear() : d.getFullYear(),
      m: (u ? d.getUTCMonth() : d.getMonth()) + 1,
      d: u ? d.getUTCDate() : d.getDate(),
      H: u ? d.getUTCHours() : d.getHours(),
      M: u ? d.getUTCMinutes() : d.getMinutes(),
      S: u ? d.getUTCSeconds() : d.getSeconds(),
      w: u ? d.getUTCDay() : d.getDay(),
      us: (u ? d.getUTCMilliseconds() : d.getMilliseconds()) * 1000 + this.micro,
    };
  }

  /** Parses IntelMQ's DateTime text ("%Y-%m-%dT%H:%M:%S[.%f]+00:00"); null if it is not one. */
  static fromIso(value: string): PyDateTime | null {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\+00:00$/.exec(value);
    if (!m) return null;
    const us = m[7] ? Number(m[7].padEnd(6, "0")) : 0;
    const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, Math.floor(us / 1000)));
    if (+m[1]! < 100) d.setUTCFullYear(+m[1]!);
    return new PyDateTime(d, us % 1000, true);
  }
}

function pad(n: number, w: number): string {
  const s = String(n);
  return s.length >= w ? s : "0".repeat(w - s.length) + s;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function dayOfYear(y: number, m: number, d: number): number {
  return Math.round((Date.UTC(y, m - 1, d) - Date.UTC(y, 0, 1)) / 86400000) + 1;
}

function isoWeek(y: number, m: number, d: number): [number, number] {
  const t = new Date(Date.UTC(y, m - 1, d));
  const wd = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - wd);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return [year, week];
}

/** C/Python strftime for the common directives (C locale). Unknown directives are kept. */
export function strftime(dt: PyDateTime, format: string): string {
  const f = dt.fields();
  let out = "";
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== "%" || i + 1 >= format.length) { out += c; continue; }
    const k = format[++i];
    switch (k) {
      case "Y": out += String(f.Y); break;
      case "y": out += pad(f.Y % 100, 2); break;
      case "C": out += pad(Math.floor(f.Y / 100), 2); break;
      case "m": out += pad(f.m, 2); break;
      case "d": out += pad(f.d, 2); break;
      case "e": out += String(f.d).padStart(2, " "); break;
      case "H": out += pad(f.H, 2); break;
      case "I": out += pad(f.H % 12 === 0 ? 12 : f.H % 12, 2); break;
      case "M": out += pad(f.M, 2); break;
      case "S": out += pad(f.S, 2); break;
      case "f": out += pad(f.us, 6); break;
      case "p": out += f.H < 12 ? "AM" : "PM"; break;
      case "a": out += DAYS[f.w]!.slice(0, 3); break;
      case "A": out += DAYS[f.w]; break;
      case "b": case "h": out += MONTHS[f.m - 1]!.slice(0, 3); break;
      case "B": out += MONTHS[f.m - 1]; break;
      case "j": out += pad(dayOfYear(f.Y, f.m, f.d), 3); break;
      case "w": out += String(f.w); break;
      case "u": out += String(f.w || 7); break;
      case "U": { const j = dayOfYear(f.Y, f.m, f.d) - 1; out += pad(Math.floor((j + 7 - f.w) / 7), 2); break; }
      case "W": { const j = dayOfYear(f.Y, f.m, f.d) - 1; out += pad(Math.floor((j + 7 - ((f.w + 6) % 7)) / 7), 2); break; }
      case "G": out += String(isoWeek(f.Y, f.m, f.d)[0]); break;
      case "V": out += pad(isoWeek(f.Y, f.m, f.d)[1], 2); break;
      case "z": out += dt.utc ? "+0000" : localOffset(dt.date); break;
      case "Z": out += dt.utc ? "UTC" : ""; break;
      case "s": out += String(Math.floor(dt.date.getTime() / 1000)); break;
      case "F": out += `${f.Y}-${pad(f.m, 2)}-${pad(f.d, 2)}`; break;
      case "T": out += `${pad(f.H, 2)}:${pad(f.M, 2)}:${pad(f.S, 2)}`; break;
      case "D": case "x": out += `${pad(f.m, 2)}/${pad(f.d, 2)}/${pad(f.Y % 100, 2)}`; break;
      case "X": out += `${pad(f.H, 2)}:${pad(f.M, 2)}:${pad(f.S, 2)}`; break;
      case "R": out += `${pad(f.H, 2)}:${pad(f.M, 2)}`; break;
      case "c": out += `${DAYS[f.w]!.slice(0, 3)} ${MONTHS[f.m - 1]!.slice(0, 3)} ${String(f.d).padStart(2, " ")} ${pad(f.H, 2)}:${pad(f.M, 2)}:${pad(f.S, 2)} ${f.Y}`; break;
      case "n": out += "\n"; break;
      case "t": out += "\t"; break;
      case "%": out += "%"; break;
      default: out += "%" + k;
    }
  }
  return out;
}

function localOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return (off >= 0 ? "+" : "-") + pad(Math.floor(a / 60), 2) + pad(a % 60, 2);
}

/** Python's str() of a format value: a date as str(datetime), anything else as the harmonization's pyStr. */
function str(v: unknown): string {
  return v instanceof PyDateTime ? v.toString() : pyStr(v);
}

/** Python's repr() of a format value (a date keeps its str() form). */
function repr(v: unknown): string {
  return v instanceof PyDateTime ? v.toString() : pyRepr(v);
}

/** What a format field can look into: a mapping or a callable lookup. */
export type FormatArg = Record<string, unknown> | ((key: string) => unknown);

/**
 * Python's `template.format(**args)` for fields of the form `name[key][...]`, with `!s`/`!r`
 * and a format spec (strftime for dates, Python's mini-language otherwise). Missing names or keys throw
 * KeyError-like errors, as Python does.
 */
export function pyFormat(template: string, args: Record<string, FormatArg>): string {
  let out = "";
  const n = template.length;
  for (let i = 0; i < n; i++) {
    const c = template[i];
    if (c === "}") {
      if (template[i + 1] === "}") { out += "}"; i++; continue; }
      throw new SyntaxError("Single '}' encountered in format string");
    }
    if (c !== "{") { out += c; continue; }
    if (template[i + 1] === "{") { out += "{"; i++; continue; }
    // field name: up to '!', ':' or '}' outside brackets
    let j = i + 1;
    while (j < n) {
      const cj = template[j];
      if (cj === "[") { const close = template.indexOf("]", j); if (close === -1) throw new SyntaxError("Missing ']' in format string"); j = close + 1; continue; }
      if (cj === "}" || cj === ":" || cj === "!") break;
      j++;
    }
    const fieldName = template.slice(i + 1, j);
    let conversion = "";
    let spec = "";
    if (template[j] === "!") { conversion = template[j + 1] ?? ""; j += 2; }
    if (template[j] === ":") {
      const close = template.indexOf("}", j);
      if (close === -1) throw new SyntaxError("expected '}' before end of string");
      spec = template.slice(j + 1, close);
      j = close;
    }
    if (template[j] !== "}") throw new SyntaxError("expected '}' before end of string");
    let value = resolve(fieldName, args);
    if (conversion === "r") value = repr(value);
    else if (conversion === "s") value = str(value);
    if (!spec) out += str(value);
    else out += value instanceof PyDateTime ? strftime(value, spec) : formatValue(value, spec);
    i = j;
  }
  return out;
}

function resolve(fieldName: string, args: Record<string, FormatArg>): unknown {
  const b = fieldName.indexOf("[");
  const name = b === -1 ? fieldName : fieldName.slice(0, b);
  if (!Object.prototype.hasOwnProperty.call(args, name)) throw new RangeError(`KeyError: ${pyRepr(name)}`);
  let value: unknown = args[name];
  let rest = b === -1 ? "" : fieldName.slice(b);
  while (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    const key = rest.slice(1, close);
    rest = rest.slice(close + 1);
    if (typeof value === "function") value = (value as (k: string) => unknown)(key);
    else if (value && typeof value === "object" && Object.prototype.hasOwnProperty.call(value, key)) value = (value as Record<string, unknown>)[key];
    else throw new RangeError(`KeyError: ${pyRepr(key)}`);
  }
  if (rest !== "") throw new SyntaxError(`unsupported format field ${JSON.stringify(fieldName)}`);
  return value;
}
