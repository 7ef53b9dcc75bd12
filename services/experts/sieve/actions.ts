// SPDX-License-Identifier: AGPL-3.0-only
/** The actions of sieve rules as closures: add, add!, update (with time arithmetic), remove, append, append!, path, keep, drop, variables. */
import { PythonError, type Event } from "../../../shared/sdk/index.js";
import type { Action } from "./ast.js";
import { eventMicros, isoformatMicros, parseRelativeMinutes } from "./dates.js";
import { CONTINUE, DROP, KEEP, MISSING, keyName, literal, valueOf, type Run, type State } from "./scope.js";
import { pyType } from "./values.js";

/** One action as a closure. */
export function compileAction(a: Action): Run {
  switch (a.t) {
    case "drop": return () => DROP;
    case "keep": return () => KEEP;
    case "path": { const paths = a.paths; return (_ev, st) => { st.paths = paths; return CONTINUE; }; }
    case "remove": {
      const key = keyName(a.key);
      return (ev, st) => { const k = key(st); if (ev.has(k)) ev.delete(k); return CONTINUE; };
    }
    case "setvar": {
      const { name, key } = a;
      return (ev, st) => {
        const v = ev.get(key, MISSING);
        if (v === MISSING) throw new PythonError("KeyError", `'${key} not present in event.'`);
        (st.vars ??= new Map()).set(name, v);
        return CONTINUE;
      };
    }
    case "add": case "add!": case "update": return assign(a);
    case "append": case "append!": {
      const key = keyName(a.key);
      const value = valueOf(a.value, null);
      const force = a.t === "append!";
      return (ev, st) => {
        const k = key(st);
        const cur = ev.get(k, MISSING);
        if (cur === MISSING) ev.add(k, [value(st)]);
        else if (Array.isArray(cur)) ev.add(k, [...cur, value(st)], { overwrite: true });
        // append leaves a single value alone; append! makes a list of it
        else if (force) ev.add(k, [cur, value(st)], { overwrite: true });
        return CONTINUE;
      };
    }
  }
}

/** add, add!, update with =, += or -= (times only, as IntelMQ's compute_basic_math). */
function assign(a: Extract<Action, { t: "add" | "add!" | "update" }>): Run {
  const key = keyName(a.key);
  const value = valueOf(a.value, null);
  let compute: (ev: Event, k: string, st: State) => unknown = (_ev, _k, st) => value(st);
  if (a.op !== "=") {
    const sign = a.op === "+=" ? 1 : -1;
    const lit = literal(a.value);
    const fixed = typeof lit === "string" ? parseRelativeMinutes(lit) : null;
    compute = (ev, k, st) => {
      const cur = ev.get(k, MISSING);
      if (cur === MISSING) throw new PythonError("KeyError", `'${k}'`);
      const t = typeof cur === "string" ? eventMicros(cur) : null;
      if (t === null) throw new PythonError("ValueError", `time data ${JSON.stringify(cur)} does not match format '%Y-%m-%dT%H:%M:%S+00:00'`);
      const spec = value(st);
      if (typeof spec !== "string") throw new PythonError("AttributeError", `'${pyType(spec)}' object has no attribute 'strip'`);
      const minutes = fixed ?? parseRelativeMinutes(spec);
      if (minutes === null) throw new PythonError("ValueError", `Could not parse relative time ${JSON.stringify(spec)}.`);
      return isoformatMicros(t + sign * Math.round(minutes * 60e6));
    };
  }
  if (a.t === "add") {
    return (ev, st) => {
      const k = key(st);
      if (!ev.has(k)) ev.add(k, compute(ev, k, st));
      return CONTINUE;
    };
  }
  if (a.t === "add!") {
    return (ev, st) => {
      const k = key(st);
      ev.add(k, compute(ev, k, st), { overwrite: true });
      return CONTINUE;
    };
  }
  return (ev, st) => {
    const k = key(st);
    if (ev.has(k)) ev.change(k, compute(ev, k, st));
    return CONTINUE;
  };
}
