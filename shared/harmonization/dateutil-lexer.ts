// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The first half of python-dateutil's parser (see dateutil.ts): characters as Python's str methods
 * see them, the lexer (_timelex) and numbers as Python reads them.
 */

/** dateutil gives up on the text (its ParserError, ValueError or OverflowError). */
export class Fail extends Error {
  override readonly name = "Fail";
}
export const fail = (why = "no date"): never => { throw new Fail(why); };

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
export function isdigitStr(s: string): boolean {
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

export function splitTokens(input: string): string[] {
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
export function floaty(tok: string): boolean {
  const c = tok.charCodeAt(0);
  if (c >= 48 && c <= 57) return /^\d+(?:\.\d+)?$/.test(tok);
  return tok.length >= 3 && tok.length <= 8 && /^(?:inf|infinity|nan)$/i.test(tok);
}

/** A finite decimal number: integer digits and fraction digits (Python's Decimal of a token). */
export interface Dec { int: number; frac: string }
export function toDecimal(s: string): Dec {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return fail(`could not convert ${s} to decimal`);
  return { int: Number(m[1]), frac: m[2] ?? "" };
}
export const hasFraction = (d: Dec): boolean => /[1-9]/.test(d.frac);
/** int(n * (d % 1)): the whole part of n times the fraction, exactly. */
export function fracTimes(d: Dec, n: number): number {
  if (!hasFraction(d)) return 0;
  return Number((BigInt(n) * BigInt(d.frac)) / 10n ** BigInt(d.frac.length));
}
/** Compare a decimal with an integer: -1, 0, 1. */
export function cmp(d: Dec, n: number): number {
  if (d.int !== n) return d.int < n ? -1 : 1;
  return hasFraction(d) ? 1 : 0;
}
/** Python's int() of a text: decimal digits only here (signs, spaces never reach it from the lexer). */
export function pyInt(s: string | undefined): number {
  if (s === undefined) return fail("index");
  if (!/^\d+$/.test(s)) return fail(`invalid literal for int(): ${s}`);
  return Number(s);
}
/** dateutil's _parsems: "S[.ffffff]" to seconds and microseconds. */
export function parseMs(s: string | undefined): [number, number] {
  if (s === undefined) return fail("index");
  if (!s.includes(".")) return [pyInt(s), 0];
  const parts = s.split(".");
  if (parts.length !== 2) return fail("too many values to unpack");
  return [pyInt(parts[0]), pyInt(parts[1]!.padEnd(6, "0").slice(0, 6))];
}
/** dateutil's _parse_min_sec: minutes and the seconds of their fraction. */
export function minSec(d: Dec): [number, number | null] {
  return [d.int, hasFraction(d) ? fracTimes(d, 60) : null];
}
