// SPDX-License-Identifier: AGPL-3.0-only
/** What compiled rules share: the per-event state, the outcomes, and how keys, values and variables are read. */
import { PythonError, type Event } from "../../../shared/sdk/index.js";
import type { KeyRef, Value } from "./ast.js";
import { pyType } from "./values.js";

export const CONTINUE = 0, KEEP = 1, DROP = 2;
export type Outcome = typeof CONTINUE | typeof KEEP | typeof DROP;

/** Per event: the variables set so far and the paths chosen by `path`. */
export interface State { vars: Map<string, unknown> | null; paths: readonly string[] | null }
export type Test = (ev: Event, st: State) => boolean;
export type Run = (ev: Event, st: State) => Outcome;

export const MISSING = Symbol("missing");
export type Getter = (ev: Event, st: State) => unknown;
export type Expected = "str" | "number" | null;

const EXPECTED_TEXT = { str: "<class 'str'>", number: "(<class 'int'>, <class 'float'>)" } as const;

/** IntelMQ's resolve_value() of a variable: NameError before it is set, ValueError for a wrong type. */
export function variable(st: State, name: string, expected: Expected): unknown {
  if (!st.vars?.has(name)) throw new PythonError("NameError", `Sieve variable ${name} used before definition.`);
  const v = st.vars.get(name);
  if (expected === "str" ? typeof v !== "string" : expected === "number" ? typeof v !== "number" && typeof v !== "boolean" : false) {
    throw new PythonError("ValueError", `Expected ${EXPECTED_TEXT[expected!]} variable, got <class '${pyType(v)}'>.`);
  }
  return v;
}

export const literal = (v: Value): unknown => (v.kind === "var" ? undefined : v.value);

/** The value of a literal or variable. */
export function valueOf(v: Value, expected: Expected): (st: State) => unknown {
  if (v.kind !== "var") { const x = v.value; return () => x; }
  const name = v.name;
  return (st) => variable(st, name, expected);
}

/** The name of the key: itself, or the text a variable holds. */
export function keyName(k: KeyRef): (st: State) => string {
  if (!k.variable) { const n = k.name; return () => n; }
  const name = k.name;
  return (st) => variable(st, name, "str") as string;
}

/** The event's value of the key, MISSING when absent. */
export function getter(k: KeyRef): Getter {
  if (!k.variable) { const n = k.name; return (ev) => ev.get(n, MISSING); }
  const name = k.name;
  return (ev, st) => ev.get(variable(st, name, "str") as string, MISSING);
}
