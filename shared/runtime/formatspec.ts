// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Python's format specification mini-language (`format(value, spec)`) for strings, integers and
 * floats: [[fill]align][sign][z][#][0][width][,|_][.precision][type].
 */
import { PyFloat, pyStr } from "../harmonization/index.js";

const SPEC = /^(?:([\s\S])?([<>=^]))?([+\- ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/;

interface Spec {
  fill: string;
  align: string;
  sign: string;
  z: boolean;
  alt: boolean;
  zero: boolean;
  width: number;
  group: string;
  precision: number | null;
  type: string;
}

function parse(spec: string): Spec {
  const m = SPEC.exec(spec);
  if (!m) throw new RangeError(`ValueError: Invalid format specifier '${spec}'`);
  return {
    fill: m[1] ?? "", align: m[2] ?? "", sign: m[3] ?? "", z: !!m[4], alt: !!m[5], zero: !!m[6],
    width: m[7] ? Number(m[7]) : 0, group: m[8] ?? "", precision: m[9] !== undefined ? Number(m[9]) : null, type: m[10] ?? "",
  };
}

function pad(body: string, prefix: string, s: Spec, defaultAlign: string): string {
  let fill = s.fill || " ";
  let align = s.align || defaultAlign;
  if (s.zero && !s.align) { fill = s.fill || "0"; align = "="; }
  const len = [...prefix].length + [...body].length;
  const n = Math.max(0, s.width - len);
  if (n === 0) return prefix + body;
  switch (align) {
    case "<": return prefix + body + fill.repeat(n);
    case "^": return fill.repeat(Math.floor(n / 2)) + prefix + body + fill.repeat(n - Math.floor(n / 2));
    case "=": return prefix + fill.repeat(n) + body;
    default: return fill.repeat(n) + prefix + body;
  }
}

function group(digits: string, sep: string, every: number): string {
  if (!sep) return digits;
  let out = "";
  for (let i = digits.length; i > 0; i -= every) out = digits.slice(Math.max(0, i - every), i) + (out ? sep + out : "");
  return out;
}

/**
 * Whether rounding x's exact decimal expansion `long` to `keep` characters is a tie whose kept
 * part ends in an even digit: Python rounds such ties down (half to even), JavaScript up.
 */
function evenTie(long: string, keep: number): boolean {
  const rest = long.slice(keep).replace(/^\./, "");
  if (!/^50*$/.test(rest.replace(/e.*$/, ""))) return false;
  const last = long.slice(0, keep).replace(/\.$/, "").slice(-1);
  return Number(last) % 2 === 0;
}

/** x.toFixed(d) with Python's rounding, and plain digits for any magnitude. */
function fixed(x: number, d: number): string {
  if (Math.abs(x) >= 1e21) return BigInt(x).toString() + (d > 0 ? "." + "0".repeat(d) : "");
  const long = x.toFixed(Math.min(100, d + 30));
  const keep = long.indexOf(".") + (d > 0 ? d + 1 : 0);
  return evenTie(long, keep) ? long.slice(0, keep) : x.toFixed(d);
}

/** x.toExponential(d) with Python's rounding. */
function exponential(x: number, d: number): string {
  const long = x.toExponential(Math.min(100, d + 30));
  const keep = (long.indexOf(".") < 0 ? 1 : long.indexOf(".")) + (d > 0 ? d + 1 : 0);
  if (!evenTie(long, keep)) return x.toExponential(d);
  return long.slice(0, keep).replace(/\.$/, "") + long.slice(long.indexOf("e"));
}

/** Python's exponent notation: at least two exponent digits (1.5e-07). */
function exp(x: number, digits: number, upper: boolean): string {
  const [mant, e] = exponential(x, digits).split("e");
  const n = Number(e);
  const s = `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  return upper ? s.toUpperCase() : s;
}

/** The 'g' presentation: fixed or exponent by the exponent, trailing zeros removed unless alt. */
function general(x: number, precision: number, alt: boolean, upper: boolean, noType: boolean): string {
  const p = precision === 0 ? 1 : precision;
  const e = Number(exponential(x, p - 1).split("e")[1]);
  let s: string;
  // Without a type Python switches to exponents one digit earlier (exp >= p - 1).
  if (e >= -4 && e < (noType ? p - 1 : p)) {
    s = fixed(x, Math.max(0, p - 1 - e));
    if (!alt && s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, noType ? ".0" : "");
    else if (noType && !s.includes(".")) s += ".0"; // without a type, a fixed float keeps a decimal
  } else {
    s = exp(x, p - 1, false);
    if (!alt) s = s.replace(/(\.\d*?)0+e/, "$1e").replace(/\.e/, "e");
  }
  return upper ? s.toUpperCase() : s;
}

function formatNumber(v: number, isFloat: boolean, s: Spec): string {
  const type = s.type;
  if (!isFloat && "eEfFgG%".includes(type) && type !== "") isFloat = true;
  if (isFloat && "bcdoxXn".includes(type) && type !== "" && type !== "n") {
    throw new RangeError(`ValueError: Unknown format code '${type}' for object of type 'float'`);
  }
  if (type === "s") throw new RangeError(`ValueError: Unknown format code 's' for object of type '${isFloat ? "float" : "int"}'`);
  if (type === "c" && (v < 0 || v > 0x10ffff)) throw new RangeError("OverflowError: %c arg not in range(0x110000)");
  if (!isFloat && s.precision !== null) throw new RangeError("ValueError: Precision not allowed in integer format specifier");
  const neg = v < 0 || Object.is(v, -0);
  let a = Math.abs(v);
  let body: string;
  let prefix = "";
  if (Number.isNaN(v)) body = "nan";
  else if (!Number.isFinite(v)) body = "inf";
  else if (!isFloat) {
    if (type === "c") body = String.fromCodePoint(a);
    else {
      const base = type === "b" ? 2 : type === "o" ? 8 : type === "x" || type === "X" ? 16 : 10;
      body = group(Math.round(a).toString(base), s.group, base === 10 ? 3 : 4);
      if (type === "X") body = body.toUpperCase();
      if (s.alt && base !== 10) prefix = "0" + (type === "X" ? "X" : type || "d");
    }
  } else {
    if (type === "%") a *= 100;
    const prec = s.precision ?? 6;
    if (type === "f" || type === "F" || type === "%") body = fixed(a, prec);
    else if (type === "e" || type === "E") body = exp(a, prec, type === "E");
    else if (type === "" && s.precision === null) body = pyStr(new PyFloat(a));
    else body = general(a, type === "" ? prec : prec, s.alt, type === "G", type === "");
    if (s.group) {
      const [int, frac] = body.split(".");
      if (/^\d+$/.test(int!)) body = group(int!, s.group, 3) + (frac !== undefined ? "." + frac : "");
    }
    if (s.alt && !body.includes(".") && /^\d+$/.test(body)) body += ".";
    if (type === "%") body += "%";
    if (type === "F" || type === "E" || type === "G") body = body.toUpperCase();
  }
  const isZero = /^[0.%]*$/.test(body.replace(/e.*$/i, ""));
  const sign = neg && !(s.z && isZero) && !Number.isNaN(v) ? "-" : s.sign === "+" ? "+" : s.sign === " " ? " " : "";
  return pad(body, sign + prefix, s, ">");
}

/** format(value, spec) for a str, int, float or bool (PyFloat marks a float whose value is integral). */
export function formatValue(value: unknown, spec: string): string {
  const s = parse(spec);
  if (value instanceof PyFloat) return formatNumber(value.value, true, s);
  if (typeof value === "number") return formatNumber(value, !Number.isInteger(value), s);
  // bool is an int to Python: any non-empty spec formats 1 or 0.
  if (typeof value === "boolean") return spec === "" ? pyStr(value) : formatNumber(value ? 1 : 0, false, s);
  if (value === null || value === undefined || (typeof value === "object" && !(value instanceof String))) {
    throw new RangeError(`TypeError: unsupported format string passed to ${value === null || value === undefined ? "NoneType" : Array.isArray(value) ? "list" : "dict"}.__format__`);
  }
  const text = pyStr(value);
  if (s.type !== "" && s.type !== "s") {
    throw new RangeError(`ValueError: Unknown format code '${s.type}' for object of type 'str'`);
  }
  if (s.sign || s.alt || s.group) throw new RangeError("ValueError: Sign not allowed in string format specifier");
  const body = s.precision !== null ? [...text].slice(0, s.precision).join("") : text;
  if (s.align === "=") throw new RangeError("ValueError: '=' alignment not allowed in string format specifier");
  // A leading 0 on a string only chooses the fill; the text stays left-aligned.
  return pad(body, "", s.zero && !s.align ? { ...s, zero: false, fill: s.fill || "0" } : s, "<");
}
