// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Python's json.loads and the json.dumps of what it loaded: a number written as a float stays a
 * float when written back ("0.000" is written "0.0", not "0"), as IntelMQ's parsers rewrite the
 * items of a report into raw. Values are plain JavaScript values; which members held integral
 * floats is kept aside (a WeakMap per object or list) and used by pyDumpsLoaded().
 */
import { PyFloat, pyJsonDumps } from "../harmonization/index.js";

/** Per loaded object or list: the keys (indexes) whose number was written as a float with an integral value. */
const FLOATS = new WeakMap<object, Set<string | number>>();

class Parser {
  i = 0;
  constructor(readonly s: string) {}
  fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.i}`);
  }
  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }
  value(owner?: object, key?: string | number): unknown {
    this.ws();
    const c = this.s[this.i];
    switch (c) {
      case "{": return this.object();
      case "[": return this.list();
      case '"': return this.string();
      case "t": return this.word("true", true);
      case "f": return this.word("false", false);
      case "n": return this.word("null", null);
      case "N": return this.word("NaN", NaN);
      case "I": return this.word("Infinity", Infinity);
      default: return this.number(owner, key);
    }
  }
  word(w: string, v: unknown): unknown {
    if (!this.s.startsWith(w, this.i)) this.fail("Expecting value");
    this.i += w.length;
    return v;
  }
  number(owner?: object, key?: string | number): number {
    const m = /^-?(?:Infinity|(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?)/.exec(this.s.slice(this.i, this.i + 400));
    if (!m || m[0] === "-") this.fail("Expecting value");
    this.i += m[0].length;
    const v = m[0] === "-Infinity" ? -Infinity : Number(m[0]);
    if ((m[1] || m[2]) && Number.isInteger(v) && owner) {
      let set = FLOATS.get(owner);
      if (!set) FLOATS.set(owner, (set = new Set()));
      set.add(key!);
    }
    return v;
  }
  string(): string {
    const s = this.s;
    let out = "";
    let start = ++this.i;
    for (;;) {
      const q = s.indexOf('"', this.i);
      const b = s.indexOf("\\", this.i);
      if (q === -1) this.fail("Unterminated string starting");
      if (b !== -1 && b < q) {
        out += s.slice(start, b);
        this.i = b + 1;
        const e = s[this.i];
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e === "u") {
          const hex = s.slice(this.i + 1, this.i + 5);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("Invalid \\uXXXX escape");
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 5;
        } else if (e !== undefined && e in simple) {
          out += simple[e];
          this.i++;
        } else this.fail("Invalid \\escape");
        start = this.i;
        continue;
      }
      const chunk = s.slice(start, q);
      // Python's strict mode: control characters are not allowed inside strings
      if (/[\x00-\x1f]/.test(chunk)) this.fail("Invalid control character");
      out += chunk;
      this.i = q + 1;
      return out;
    }
  }
  object(): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === "}") { this.i++; return o; }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("Expecting property name enclosed in double quotes");
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("Expecting ':' delimiter");
      this.i++;
      FLOATS.get(o)?.delete(k);
      o[k] = this.value(o, k);
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return o;
      if (c !== ",") { this.i--; this.fail("Expecting ',' delimiter"); }
    }
  }
  list(): unknown[] {
    const a: unknown[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === "]") { this.i++; return a; }
    for (;;) {
      a.push(this.value(a, a.length));
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") return a;
      if (c !== ",") { this.i--; this.fail("Expecting ',' delimiter"); }
    }
  }
}

/** Python's json.loads: NaN and Infinity taken, control characters in strings refused; a SyntaxError names the position. */
export function pyJsonLoads(text: string): unknown {
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.i < text.length) p.fail("Extra data");
  return v;
}

/** The value with the integral floats pyJsonLoads() saw as PyFloat, for pyJsonDumps(). */
function withFloats(v: unknown): unknown {
  if (v === null || typeof v !== "object" || v instanceof PyFloat) return v;
  const floats = FLOATS.get(v);
  if (Array.isArray(v)) return v.map((x, i) => (floats?.has(i) && typeof x === "number" ? new PyFloat(x) : withFloats(x)));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = floats?.has(k) && typeof x === "number" ? new PyFloat(x) : withFloats(x);
  return out;
}

/** Python's json.dumps of a value pyJsonLoads() gave (or any other): floats written as floats. */
export function pyDumpsLoaded(v: unknown, opts: { sortKeys?: boolean } = {}): string {
  return pyJsonDumps(withFloats(v), opts);
}
