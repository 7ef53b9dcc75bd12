// SPDX-License-Identifier: AGPL-3.0-only
/** The syntax tree of a sieve file: what the parser builds and compile.ts turns into closures. */

export interface Pos { readonly line: number; readonly col: number }

/** A literal or a variable (`$name`): IntelMQ's TypedValue. */
export type Value =
  | { readonly kind: "string"; readonly value: string; readonly pos: Pos }
  | { readonly kind: "int"; readonly value: number; readonly pos: Pos }
  | { readonly kind: "float"; readonly value: number; readonly pos: Pos }
  | { readonly kind: "bool"; readonly value: boolean; readonly pos: Pos }
  | { readonly kind: "var"; readonly name: string; readonly pos: Pos };

/** A key: a field name, or a variable holding one. */
export interface KeyRef { readonly name: string; readonly variable: boolean; readonly pos: Pos }

export type StringOp = "==" | "!=" | ":contains" | "=~" | "!~";
export type StringListOp = ":in" | ":containsany" | ":regexin";
export type NumericOp = "==" | "!=" | "<" | "<=" | ">" | ">=";
export type ListOp = ":equals" | ":setequals" | ":overlaps" | ":subsetof" | ":supersetof";

export type Match =
  | { readonly t: "exists"; readonly exists: boolean; readonly key: KeyRef }
  | { readonly t: "string"; readonly op: StringOp; readonly key: KeyRef; readonly value: Value }
  | { readonly t: "stringList"; readonly op: StringListOp; readonly key: KeyRef; readonly values: readonly Value[] }
  | { readonly t: "numeric"; readonly op: NumericOp; readonly key: KeyRef; readonly value: Value }
  | { readonly t: "numericList"; readonly key: KeyRef; readonly values: readonly Value[] }
  | { readonly t: "ipRange"; readonly key: KeyRef; readonly ranges: readonly { readonly text: string; readonly pos: Pos }[] }
  | { readonly t: "date"; readonly op: ":before" | ":after"; readonly key: KeyRef; readonly value: Value }
  | { readonly t: "list"; readonly op: ListOp; readonly key: KeyRef; readonly values: readonly Value[] }
  | { readonly t: "bool"; readonly op: "==" | "!="; readonly key: KeyRef; readonly value: Value }
  | { readonly t: "group"; readonly expr: Expr };

export interface Condition { readonly negated: boolean; readonly match: Match; readonly pos: Pos }
/** Disjunction of conjunctions: `a && b || c` is [[a, b], [c]]. */
export type Expr = readonly (readonly Condition[])[];

export type AssignOp = "=" | "+=" | "-=";

export type Action =
  | { readonly t: "drop"; readonly pos: Pos }
  | { readonly t: "keep"; readonly pos: Pos }
  | { readonly t: "path"; readonly paths: readonly string[]; readonly pos: Pos }
  | { readonly t: "add" | "add!" | "update"; readonly key: KeyRef; readonly op: AssignOp; readonly value: Value; readonly pos: Pos }
  | { readonly t: "remove"; readonly key: KeyRef; readonly pos: Pos }
  | { readonly t: "append" | "append!"; readonly key: KeyRef; readonly value: Value; readonly pos: Pos }
  | { readonly t: "setvar"; readonly name: string; readonly key: string; readonly pos: Pos };

/** if / elif... / else: an else clause has no condition. */
export interface Branching {
  readonly t: "if";
  readonly clauses: readonly { readonly expr: Expr | null; readonly body: readonly Statement[]; readonly pos: Pos }[];
  readonly pos: Pos;
}

export type Statement = Action | Branching;

/** One parsed file. */
export interface SieveFile { readonly file: string; readonly statements: readonly Statement[] }
