// SPDX-License-Identifier: AGPL-3.0-only
// Python value semantics that IntelMQ's behaviour depends on: repr(), str(), json.dumps(),
// float()/int() parsing, truthiness, whitespace and regex dialect.

/** A number that Python holds as a float (prints as `1.0`, not `1`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Python's `string.whitespace` plus what str.strip() removes (Unicode whitespace). */
const PY_STRIP_RE = /^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g;

/** Python str.strip() with no argument. */
export function pyStrip(s: string): string {
  const a = s.charCodeAt(0), b = s.charCodeAt(s.length - 1);
  // fast path: nothing to strip (most values)
  if (a > 32 && a < 127 && b > 32 && b < 127) return s;
  return s.replace(PY_STRIP_RE, "");
}

/** Python truthiness of a JSON-ish value. */
export function pyFalsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return true;
  if (typeof v === "number") return v === 0;
  if (typeof v === "bigint") return v === 0n;
  if (v instanceof Uint8Array) return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof PyFloat) return v.value === 0;
  if (typeof v === "object") return Object.keys(v as object).length === 0;
  return false;
}

/** Python's `a == b` for the values messages hold: 1 == 1.0 == True, containers compare deeply. */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = typeof a === "boolean" ? +a : a instanceof PyFloat ? a.value : a;
  const nb = typeof b === "boolean" ? +b : b instanceof PyFloat ? b.value : b;
  if (typeof na === "number" && typeof nb === "number") return na === nb;
  if (typeof na === "bigint" || typeof nb === "bigint") {
    return (typeof na === "bigint" || typeof na === "number") && (typeof nb === "bigint" || typeof nb === "number") && BigInt(na as number) === BigInt(nb as number);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && pyEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** Python float repr (shortest round-trip; exponent form outside 1e-4..1e16). */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(n);
  if (abs >= 1e-4 && abs < 1e16) {
    const s = String(n);
    if (s.includes("e")) {
      // JS switches to exponent below 1e-6; Python only below 1e-4
      return n.toFixed(20).replace(/0+$/, "").replace(/\.$/, ".0");
    }
    return s.includes(".") ? s : s + ".0";
  }
  // exponent form: digits from JS's shortest representation
  const e = n.toExponential(); // e.g. 1e+16, 1.5e-7
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(e)!;
  const exp = m[3]!.length < 2 ? "0" + m[3] : m[3];
  return `${m[1]}e${m[2]}${exp}`;
}

/** Python's str.isprintable() per character (approximated with Unicode properties). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const NEEDS_ESCAPE_FAST = /[\x00-\x1f\x7f-\u00a0'"\\\u00ad\u0600-\u0605\u061c\u06dd\u070f\u08e2\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ud800-\udfff\ue000-\uf8ff\ufeff\ufff0-\uffff]/;

function hex(n: number, w: number): string {
  return n.toString(16).padStart(w, "0");
}

/** Python repr() of a str. */
export function pyReprStr(s: string): string {
  if (!NEEDS_ESCAPE_FAST.test(s) && !/[^\x00-\uffff]/u.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + hex(c, 2);
    else if (c < 0x7f) out += ch;
    else if (ch !== " " && NON_PRINTABLE.test(ch)) {
      if (c <= 0xff) out += "\\x" + hex(c, 2);
      else if (c <= 0xffff) out += "\\u" + hex(c, 4);
      else out += "\\U" + hex(c, 8);
    } else out += ch;
  }
  return out + quote;
}

/** Python repr() of a JSON-ish value (str, int, float, bool, None, list, dict, bytes). */
export function pyRepr(v: unknown, asFloat = false): string {
  switch (typeof v) {
    case "string": return pyReprStr(v);
    case "number":
      if (asFloat || !Number.isInteger(v)) return pyFloatRepr(v);
      return Object.is(v, -0) ? "0" : String(v);
    case "bigint": return v.toString();
    case "boolean": return v ? "True" : "False";
    case "undefined": return "None";
  }
  if (v === null) return "None";
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (Array.isArray(v)) return "[" + v.map((x) => pyRepr(x)).join(", ") + "]";
  if (v instanceof Uint8Array) return pyReprBytes(v);
  if (v instanceof Set) return v.size ? "{" + [...v].map((x) => pyRepr(x)).join(", ") + "}" : "set()";
  const o = v as Record<string, unknown>;
  return "{" + Object.keys(o).map((k) => `${pyReprStr(k)}: ${pyRepr(o[k])}`).join(", ") + "}";
}

function pyReprBytes(b: Uint8Array): string {
  let hasSq = false, hasDq = false;
  for (const c of b) { if (c === 0x27) hasSq = true; else if (c === 0x22) hasDq = true; }
  const q = hasSq && !hasDq ? '"' : "'";
  let out = "b" + q;
  for (const c of b) {
    if (c === q.charCodeAt(0) || c === 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c === 9) out += "\\t";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c < 0x20 || c >= 0x7f) out += "\\x" + hex(c, 2);
    else out += String.fromCharCode(c);
  }
  return out + q;
}

/** Python str() of a value: strings as they are, everything else as repr(). */
export function pyStr(v: unknown, asFloat = false): string {
  return typeof v === "string" ? v : pyRepr(v, asFloat);
}

/** Number of code points (Python's len() of a str). */
export function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++; }
    }
  }
  return n;
}

/** Printable ASCII without `"` and `\`: written as it is in both modes. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const SURROGATE = /[\ud800-\udfff]/;

/** A JSON string literal as Python's json.dumps writes it. */
export function pyJsonStr(s: string, ensureAscii: boolean): string {
  if (JSON_PLAIN.test(s)) return '"' + s + '"';
  // Without ensure_ascii, Python escapes exactly what JSON.stringify escapes (", \, controls as
  // \n or \u00xx), except lone surrogates, which JSON.stringify escapes and Python writes raw.
  if (!ensureAscii && !SURROGATE.test(s)) return JSON.stringify(s);
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || (ensureAscii && c > 0x7e)) out += "\\u" + hex(c, 4);
    else out += s[i];
  }
  return out + '"';
}

export interface DumpsOptions {
  sortKeys?: boolean;
  ensureAscii?: boolean;
  /** (item separator, key separator); Python's default is (", ", ": ") */
  separators?: [string, string];
}

/** Python json.dumps() with its default formatting. Throws TypeError for values JSON cannot hold. */
export function pyJsonDumps(v: unknown, opts: DumpsOptions = {}): string {
  const ensureAscii = opts.ensureAscii ?? true;
  const [itemSep, keySep] = opts.separators ?? [", ", ": "];
  const sortKeys = opts.sortKeys ?? false;
  const rec = (x: unknown): string => {
    switch (typeof x) {
      case "string": return pyJsonStr(x, ensureAscii);
      case "number":
        if (Number.isNaN(x)) return "NaN";
        if (x === Infinity) return "Infinity";
        if (x === -Infinity) return "-Infinity";
        return Number.isInteger(x) ? (Object.is(x, -0) ? "0" : String(x)) : pyFloatRepr(x);
      case "bigint": return x.toString();
      case "boolean": return x ? "true" : "false";
      case "undefined": return "null";
    }
    if (x === null) return "null";
    if (x instanceof PyFloat) return pyFloatRepr(x.value);
    if (Array.isArray(x)) return "[" + x.map(rec).join(itemSep) + "]";
    if (x instanceof Uint8Array || x instanceof Set || x instanceof Map || typeof x === "function" || typeof x === "symbol") {
      throw new TypeError("Object is not JSON serializable");
    }
    const o = x as Record<string, unknown>;
    const keys = Object.keys(o);
    // UTF-16 order is code point order unless surrogates take part (message keys never have any).
    if (sortKeys) keys.sort(keys.some((k) => SURROGATE.test(k)) ? pyCompare : undefined);
    let out = "{";
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) out += itemSep;
      out += pyJsonStr(keys[i]!, ensureAscii) + keySep + rec(o[keys[i]!]);
    }
    return out + "}";
  };
  return rec(v);
}

/** Python's str ordering (by code point), usable as a sort comparator. */
export function pyCompare(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 order equals code point order unless astral characters meet BMP ones above U+D800
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!, y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : 1;
}

/** Python float(str): whitespace, sign, underscores between digits, inf/nan. null if Python raises. */
export function pyParseFloat(s: string): number | null {
  const t = pyStrip(s);
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (!/^[+-]?(\d(_?\d)*(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][+-]?\d(_?\d)*)?$/.test(t)) return null;
  return Number(t.replace(/_/g, ""));
}

/** Python int(str) (base 10): whitespace, sign, underscores between digits. null if Python raises. */
export function pyParseInt(s: string): number | null {
  // plain digits (a port, an ASN), the common case: no strip, no regex, no copy
  const n = s.length;
  if (n > 0 && n <= 15) {
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === n) return v;
  }
  const t = pyStrip(s);
  if (!/^[+-]?\d(_?\d)*$/.test(t)) return null;
  return Number(t.replace(/_/g, ""));
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
/** bytes.decode('utf-8', 'ignore'). */
export function decodeBytes(b: Uint8Array): string {
  // TextDecoder replaces invalid sequences with U+FFFD; Python 'ignore' drops them
  const s = utf8.decode(b);
  return s.includes("\ufffd") ? dropInvalid(b) : s;
}

function dropInvalid(b: Uint8Array): string {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let out = "";
  let i = 0;
  while (i < b.length) {
    // decode maximal valid runs, skip bytes that cannot start a valid sequence
    let j = i + 1;
    let best = -1;
    for (; j <= Math.min(b.length, i + 4); j++) {
      try { strict.decode(b.subarray(i, j)); best = j; break; } catch { /* try longer */ }
    }
    if (best < 0) { i++; continue; }
    out += strict.decode(b.subarray(i, best));
    i = best;
  }
  return out;
}

/** Python's `string.whitespace` membership for one UTF-16 unit. */
export function isPyAsciiWhitespace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Translate a Python `re` pattern to a JS RegExp with the same meaning for `re.search`.
 * Handles `$` (also before a final newline), `\Z`, `\A`, `(?P<n>`, `(?P=n)` and leading inline flags.
 */
export function pyRegex(pattern: string, ignoreCase = false): RegExp {
  let flags = "u";
  let p = pattern;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (inline) {
    p = p.slice(inline[0].length);
    if (inline[1]!.includes("i")) ignoreCase = true;
    if (inline[1]!.includes("m")) flags += "m";
    if (inline[1]!.includes("s")) flags += "s";
  }
  if (ignoreCase) flags += "i";
  let out = "";
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === "\\") {
      const nx = p[i + 1];
      if (!inClass && nx === "Z") { out += "$(?![\\s\\S])"; i++; continue; }
      // start of the string only, also under (?m) where ^ would match after every newline
      if (!inClass && nx === "A") { out += "(?<![\\s\\S])"; i++; continue; }
      out += ch + (nx ?? "");
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      else if (ch === "[") { out += "\\["; continue; }
      out += ch;
      continue;
    }
    if (ch === "[") {
      inClass = true;
      out += ch;
      if (p[i + 1] === "^") { out += "^"; i++; }
      if (p[i + 1] === "]") { out += "\\]"; i++; }
      continue;
    }
    if (ch === "$" && !flags.includes("m")) { out += "(?=\\n?$)"; continue; }
    if (ch === "(" && p.startsWith("(?P<", i)) { out += "(?<"; i += 3; continue; }
    if (ch === "(" && p.startsWith("(?P=", i)) {
      const end = p.indexOf(")", i);
      out += `\\k<${p.slice(i + 4, end)}>`;
      i = end;
      continue;
    }
    if (ch === "{" || ch === "}") {
      // Python treats braces that are not a quantifier as literals; the u flag does not
      const m = ch === "{" ? /^\{\d*(,\d*)?\}/.exec(p.slice(i)) : null;
      if (m && m[0] !== "{}" && m[0] !== "{,}") { out += m[0]; i += m[0].length - 1; continue; }
      out += "\\" + ch;
      continue;
    }
    out += ch;
  }
  try {
    return new RegExp(out, flags);
  } catch {
    return new RegExp(out, flags.replace("u", ""));
  }
}
