// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The few Python semantics the filter's IntelMQ configurations rely on: `==` between
 * event values and the configured value, `str()` of a value matched by a regex, and
 * Python regular expression syntax.
 */

/** Python's `a == b` for JSON values: booleans equal the numbers 0 and 1, containers compare deeply. */
export function pyEquals(a: unknown, b: unknown): boolean {
  const numA = typeof a === "number" || typeof a === "boolean";
  const numB = typeof b === "number" || typeof b === "boolean";
  if (numA || numB) return numA && numB && Number(a) === Number(b);
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => pyEquals(v, bb[i]));
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length
    && ka.every((k) => Object.hasOwn(b, k) && pyEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else out += ch;
  }
  return out + quote;
}

function pyRepr(v: unknown): string {
  if (typeof v === "string") return reprString(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v).map(([k, x]) => `${reprString(k)}: ${pyRepr(x)}`).join(", ")}}`;
  }
  return pyStr(v);
}

/** Python's `str(value)` for JSON values. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  return pyRepr(v);
}

/**
 * Compile a Python regular expression into a JavaScript one: named groups `(?P<n>...)`,
 * back-references `(?P=n)`, `\A`/`\Z` anchors and leading inline flags (i, m, s).
 */
export function pyRegex(pattern: string): RegExp {
  let flags = "";
  let src = pattern;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (inline) {
    for (const f of inline[1]!) if ("ims".includes(f) && !flags.includes(f)) flags += f;
    src = src.slice(inline[0].length);
  }
  src = src
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, "(?<$1>")
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, "\\k<$1>")
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, "$1$2(?<![\\s\\S])")
    .replace(/(^|[^\\])((?:\\\\)*)\\Z/g, "$1$2(?![\\s\\S])");
  return new RegExp(src, flags);
}
