// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Turns parsed sieve files into closures, once at start: each condition becomes a
 * (event, state) => boolean, each statement an (event, state) => CONTINUE | KEEP | DROP, with
 * the operator, literal values, regexes, networks and times resolved beforehand.
 * The semantics are those of IntelMQ's SieveExpertBot (expert.py), including its errors.
 */
import { PythonError, pyEquals, pyRegex } from "../../../shared/sdk/index.js";
import type { Branching, Condition, Expr, Match, Statement } from "./ast.js";
import { compileAction } from "./actions.js";
import { eventMicros, parseAbsoluteMicros, parseRelativeMinutes } from "./dates.js";
import { CONTINUE, MISSING, getter, keyName, literal, valueOf, type Run, type State, type Test } from "./scope.js";
import { hashable, inNetwork, pyType, toAddress, toNetwork, toText, type Network } from "./values.js";

export { CONTINUE, DROP, KEEP, type Outcome, type Run, type State, type Test } from "./scope.js";

export interface CompileEnv {
  /** Whether a field holds Python floats (str() of 100 is "100.0"). */
  isFloat(key: string): boolean;
  warn(message: string): void;
}

const regexCache = new Map<string, RegExp>();
function regexOf(pattern: string): RegExp {
  let r = regexCache.get(pattern);
  if (!r) { r = pyRegex(pattern); if (regexCache.size > 1000) regexCache.clear(); regexCache.set(pattern, r); }
  return r;
}

export class Compiler {
  constructor(readonly env: CompileEnv) {}

  statements(list: readonly Statement[]): Run {
    const runs = list.map((s) => this.statement(s));
    if (runs.length === 0) return () => CONTINUE;
    if (runs.length === 1) return runs[0]!;
    return (ev, st) => {
      for (let i = 0; i < runs.length; i++) {
        const r = runs[i]!(ev, st);
        if (r !== CONTINUE) return r;
      }
      return CONTINUE;
    };
  }

  statement(s: Statement): Run {
    return s.t === "if" ? this.branching(s) : compileAction(s);
  }

  branching(b: Branching): Run {
    const tests = b.clauses.map((c) => (c.expr ? this.expr(c.expr) : null));
    const bodies = b.clauses.map((c) => this.statements(c.body));
    if (tests.length === 1) {
      const t = tests[0]!, body = bodies[0]!;
      return (ev, st) => (t(ev, st) ? body(ev, st) : CONTINUE);
    }
    return (ev, st) => {
      for (let i = 0; i < tests.length; i++) {
        const t = tests[i];
        if (t === null || t!(ev, st)) return bodies[i]!(ev, st);
      }
      return CONTINUE;
    };
  }

  expr(e: Expr): Test {
    const ors = e.map((conj) => all(conj.map((c) => this.condition(c))));
    return any(ors);
  }

  condition(c: Condition): Test {
    const t = this.match(c.match);
    return c.negated ? (ev, st) => !t(ev, st) : t;
  }

  match(m: Match): Test {
    switch (m.t) {
      case "group": return this.expr(m.expr);
      case "exists": {
        const key = keyName(m.key);
        return m.exists ? (ev, st) => ev.has(key(st)) : (ev, st) => !ev.has(key(st));
      }
      case "string": return this.stringMatch(m);
      case "stringList": return this.stringListMatch(m);
      case "numeric": return this.numericMatch(m);
      case "numericList": {
        const get = getter(m.key);
        const values = m.values.map((v) => valueOf(v, "number"));
        return (ev, st) => {
          const v = get(ev, st);
          return v !== MISSING && values.some((x) => pyEquals(v, x(st)));
        };
      }
      case "ipRange": return this.ipRangeMatch(m);
      case "date": return this.dateMatch(m);
      case "list": return this.listMatch(m);
      case "bool": {
        const get = getter(m.key);
        const want = valueOf(m.value, null);
        const eq = m.op === "==";
        return (ev, st) => {
          const v = get(ev, st);
          return typeof v === "boolean" && pyEquals(v, want(st)) === eq;
        };
      }
    }
  }

  /** ==, !=, :contains, =~, !~ (IntelMQ's process_single_string_match). */
  stringMatch(m: Extract<Match, { t: "string" }>): Test {
    const get = getter(m.key);
    const key = keyName(m.key);
    const float = m.key.variable ? null : this.env.isFloat(m.key.name);
    const text = (v: unknown, st: State) => toText(v, float ?? this.env.isFloat(key(st)));
    const lit = literal(m.value) as string | undefined;
    const want = valueOf(m.value, "str") as (st: State) => string;
    switch (m.op) {
      case "==": return (ev, st) => {
        const v = get(ev, st);
        return v !== MISSING && v === want(st);
      };
      case "!=": return (ev, st) => {
        const v = get(ev, st);
        return v === MISSING || v !== want(st);
      };
      case ":contains": return (ev, st) => {
        const v = get(ev, st);
        return v !== MISSING && text(v, st).includes(want(st));
      };
      case "=~": case "!~": {
        const fixed = lit !== undefined ? pyRegex(lit) : null;
        const hit = m.op === "=~";
        return (ev, st) => {
          const v = get(ev, st);
          if (v === MISSING) return !hit;
          return (fixed ?? regexOf(want(st))).test(text(v, st)) === hit;
        };
      }
    }
  }

  /** :in, :containsany, :regexin on strings (IntelMQ's process_multi_string_match). */
  stringListMatch(m: Extract<Match, { t: "stringList" }>): Test {
    const get = getter(m.key);
    const values = m.values.map((v) => valueOf(v, "str") as (st: State) => string);
    const allLiteral = m.values.every((v) => v.kind !== "var");
    if (m.op === ":in") {
      if (allLiteral) {
        const set = new Set(m.values.map((v) => literal(v) as string));
        return (ev, st) => { const v = get(ev, st); return typeof v === "string" && set.has(v); };
      }
      return (ev, st) => { const v = get(ev, st); return v !== MISSING && values.some((x) => pyEquals(v, x(st))); };
    }
    if (m.op === ":containsany") {
      return (ev, st) => {
        const v = get(ev, st);
        if (v === MISSING) return false;
        if (typeof v !== "string") throw new PythonError("AttributeError", `'${pyType(v)}' object has no attribute 'find'`);
        return values.some((x) => v.includes(x(st)));
      };
    }
    const fixed = allLiteral ? m.values.map((v) => pyRegex(literal(v) as string)) : null;
    return (ev, st) => {
      const v = get(ev, st);
      if (v === MISSING) return false;
      if (typeof v !== "string") throw new PythonError("TypeError", `expected string or bytes-like object, got '${pyType(v)}'`);
      return fixed ? fixed.some((r) => r.test(v)) : values.some((x) => regexOf(x(st)).test(v));
    };
  }

  /** ==, !=, <, <=, >, >= on numbers. */
  numericMatch(m: Extract<Match, { t: "numeric" }>): Test {
    const get = getter(m.key);
    const want = valueOf(m.value, "number") as (st: State) => number | boolean;
    const op = m.op;
    if (op === "==" || op === "!=") {
      const eq = op === "==";
      return (ev, st) => { const v = get(ev, st); return v !== MISSING && pyEquals(v, want(st)) === eq; };
    }
    const cmp: (a: number, b: number) => boolean = op === "<" ? (a, b) => a < b : op === "<=" ? (a, b) => a <= b : op === ">" ? (a, b) => a > b : (a, b) => a >= b;
    return (ev, st) => {
      const v = get(ev, st);
      if (v === MISSING) return false;
      if (typeof v !== "number" && typeof v !== "boolean") {
        throw new PythonError("TypeError", `'${op}' not supported between instances of '${pyType(v)}' and '${pyType(want(st))}'`);
      }
      return cmp(+v, +want(st));
    };
  }

  /** << (IntelMQ's process_ip_range_match): an unparsable address is a warning and no match. */
  ipRangeMatch(m: Extract<Match, { t: "ipRange" }>): Test {
    const get = getter(m.key);
    const key = keyName(m.key);
    const nets: Network[] = m.ranges.map((r) => toNetwork(r.text)!);
    return (ev, st) => {
      const v = get(ev, st);
      if (v === MISSING) return false;
      const addr = toAddress(v);
      if (!addr) {
        this.env.warn(`Could not parse IP address ${key(st)}=${toText(v, false)} in ${ev.toString()}.`);
        return false;
      }
      for (const n of nets) if (inNetwork(addr, n)) return true;
      return false;
    };
  }

  /** :before / :after (IntelMQ's process_date_match). */
  dateMatch(m: Extract<Match, { t: "date" }>): Test {
    const get = getter(m.key);
    const key = keyName(m.key);
    const spec = valueOf(m.value, "str") as (st: State) => string;
    const lit = literal(m.value) as string | undefined;
    const fixedAbs = lit !== undefined ? parseAbsoluteMicros(lit) : null;
    const fixedRel = lit !== undefined && fixedAbs === null ? parseRelativeMinutes(lit) : null;
    const before = m.op === ":before";
    const baseTime = (st: State): number => {
      if (fixedAbs !== null) return fixedAbs;
      let minutes = fixedRel;
      let text = lit;
      if (text === undefined) {
        text = spec(st);
        const abs = parseAbsoluteMicros(text);
        if (abs !== null) return abs;
        minutes = parseRelativeMinutes(text);
      }
      if (minutes === null) throw new PythonError("ValueError", `Could not parse ${JSON.stringify(text)} as a date nor as a relative time.`);
      return Date.now() * 1000 - Math.round(minutes * 60e6);
    };
    return (ev, st) => {
      const v = get(ev, st);
      if (v === MISSING) return false;
      const base = baseTime(st);
      if (typeof v !== "string") throw new PythonError("TypeError", `strptime() argument 1 must be str, not ${pyType(v)}`);
      const t = eventMicros(v);
      if (t === null) {
        this.env.warn(`Could not parse ${key(st)}=${v} at ${ev.toString()}.`);
        return false;
      }
      return before ? t < base : t > base;
    };
  }

  /** :equals, :setequals, :overlaps, :subsetof, :supersetof on list values. */
  listMatch(m: Extract<Match, { t: "list" }>): Test {
    const get = getter(m.key);
    const values = m.values.map((v) => valueOf(v, null));
    const rhs = (st: State) => values.map((x) => x(st));
    if (m.op === ":equals") {
      return (ev, st) => { const v = get(ev, st); return Array.isArray(v) && pyEquals(v, rhs(st)); };
    }
    const fixed = m.values.every((v) => v.kind !== "var") ? new Set(rhs({ vars: null, paths: null }).map(hashable)) : null;
    type SetTest = (a: Set<string>, b: Set<string>) => boolean;
    const test: SetTest = {
      ":setequals": ((a, b) => a.size === b.size && [...a].every((x) => b.has(x))) as SetTest,
      ":overlaps": ((a, b) => [...a].some((x) => b.has(x))) as SetTest,
      ":subsetof": ((a, b) => [...a].every((x) => b.has(x))) as SetTest,
      ":supersetof": ((a, b) => [...b].every((x) => a.has(x))) as SetTest,
    }[m.op];
    return (ev, st) => {
      const v = get(ev, st);
      return Array.isArray(v) && test(new Set(v.map(hashable)), fixed ?? new Set(rhs(st).map(hashable)));
    };
  }
}

function all(ts: Test[]): Test {
  if (ts.length === 1) return ts[0]!;
  if (ts.length === 2) { const [a, b] = ts as [Test, Test]; return (ev, st) => a(ev, st) && b(ev, st); }
  return (ev, st) => { for (const t of ts) if (!t(ev, st)) return false; return true; };
}

function any(ts: Test[]): Test {
  if (ts.length === 1) return ts[0]!;
  if (ts.length === 2) { const [a, b] = ts as [Test, Test]; return (ev, st) => a(ev, st) || b(ev, st); }
  return (ev, st) => { for (const t of ts) if (t(ev, st)) return true; return false; };
}
