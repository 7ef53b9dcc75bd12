// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Recursive-descent parser of IntelMQ's sieve language (its grammar sieve.tx), with IntelMQ's
 * checks against the harmonization: numeric comparisons only on numeric fields, string
 * comparisons of IP address fields only with IP addresses, valid network ranges.
 *
 *   file       := statement*
 *   statement  := action | 'if' expr block ('elif' expr block)* ('else' block)?
 *   block      := '{' statement* '}'
 *   expr       := conj ('||' conj)*
 *   conj       := cond ('&&' cond)*
 *   cond       := '!'? ( '(' expr ')' | (':exists' | ':notexists') key | key operator operand )
 *   action     := 'drop' | 'keep' | 'path' (string | '[' string (',' string)* ']')
 *               | ('add' | 'add!' | 'update') key ('=' | '+=' | '-=') value
 *               | 'remove' key | ('append' | 'append!') key value | $var '=' key
 */
import type { Action, AssignOp, Condition, Expr, KeyRef, ListOp, Match, Pos, SieveFile, Statement, Value } from "./ast.js";
import { SieveError, tokenize, type Token } from "./lexer.js";

const KEY = /^[a-z0-9_.]+$/;
const VARIABLE = /^\$[a-z0-9_]+$/;
const INT = /^[-+]?[0-9]+$/;
const STRICT_FLOAT = /^[+-]?(?:(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)$/;
const BOOLS: Readonly<Record<string, boolean>> = { true: true, True: true, false: false, False: false };

const STRING_OPS = new Set([":contains", "=~", "!~"]);
const NUMERIC_OPS = new Set(["<", "<=", ">", ">="]);
const LIST_OPS = new Set([":equals", ":setequals", ":overlaps", ":subsetof", ":supersetof"]);
const NUMERIC_TYPES = new Set(["Integer", "Float", "Accuracy", "ASN"]);

/** The harmonization type name of an event field as IntelMQ's table names it (no extra.* sub-keys). */
export type FieldTypeOf = (key: string) => string | undefined;

/** Validity of literals, given by the caller: ipaddress.ip_address(), ip_network(strict=False), a regex's problem. */
export interface LiteralChecks { isAddress(s: string): boolean; isNetwork(s: string): boolean; regexError(pattern: string): string | null }

export function parseSieve(text: string, file: string, fieldType: FieldTypeOf, ip: LiteralChecks): SieveFile {
  return new Parser(tokenize(text, file), file, fieldType, ip).file();
}

const describe = (t: Token) => (t.type === "eof" ? "the end of the file" : t.type === "string" ? `string ${t.text}` : `'${t.text}'`);

class Parser {
  #i = 0;
  constructor(readonly toks: Token[], readonly fileName: string, readonly fieldType: FieldTypeOf, readonly checks: LiteralChecks) {}

  get #t(): Token { return this.toks[this.#i]!; }
  #next(): Token { return this.toks[this.#i++]!; }
  #pos(t: Token = this.#t): Pos { return { line: t.line, col: t.col }; }
  #fail(t: Token | Pos, problem: string): never { throw new SieveError(this.fileName, t.line, t.col, problem); }
  #expected(what: string): never { this.#fail(this.#t, `expected ${what}, found ${describe(this.#t)}`); }
  #isOp(text: string): boolean { return this.#t.type === "op" && this.#t.text === text; }
  #isWord(text: string): boolean { return this.#t.type === "word" && this.#t.text === text; }
  #accept(text: string): boolean {
    if (this.#t.type !== "op" || this.#t.text !== text) return false;
    this.#i++;
    return true;
  }
  #expect(text: string): Token {
    if (!this.#isOp(text)) this.#expected(`'${text}'`);
    return this.#next();
  }

  file(): SieveFile {
    const statements: Statement[] = [];
    while (this.#t.type !== "eof") statements.push(this.#statement());
    return { file: this.fileName, statements };
  }

  #statement(): Statement {
    const t = this.#t;
    if (t.type === "word") {
      if (t.text === "if") return this.#branching();
      if (t.text === "elif" || t.text === "else") this.#fail(t, `'${t.text}' without a preceding 'if' block`);
      const a = this.#action();
      if (a) return a;
    }
    return this.#expected("an action (add, add!, update, remove, append, append!, path, keep, drop, $variable = key) or 'if'");
  }

  #block(): Statement[] {
    this.#expect("{");
    const body: Statement[] = [];
    while (!this.#isOp("}")) {
      if (this.#t.type === "eof") this.#expected("'}'");
      body.push(this.#statement());
    }
    this.#next();
    return body;
  }

  #branching(): Statement {
    const pos = this.#pos(this.#next());
    const clauses: { expr: Expr | null; body: Statement[]; pos: Pos }[] = [];
    const expr = this.#expr();
    clauses.push({ expr, body: this.#block(), pos });
    while (this.#isWord("elif")) {
      const p = this.#pos(this.#next());
      const e = this.#expr();
      clauses.push({ expr: e, body: this.#block(), pos: p });
    }
    if (this.#isWord("else")) {
      const p = this.#pos(this.#next());
      if (this.#isWord("if")) this.#fail(this.#t, "expected '{' after 'else' (an else-if is written 'elif')");
      clauses.push({ expr: null, body: this.#block(), pos: p });
    }
    return { t: "if", clauses, pos };
  }

  #expr(): Expr {
    const out: Condition[][] = [this.#conj()];
    while (this.#accept("||")) out.push(this.#conj());
    return out;
  }

  #conj(): Condition[] {
    const out = [this.#cond()];
    while (this.#accept("&&")) out.push(this.#cond());
    return out;
  }

  #cond(): Condition {
    const pos = this.#pos();
    const negated = this.#accept("!");
    if (this.#accept("(")) {
      const expr = this.#expr();
      this.#expect(")");
      return { negated, match: { t: "group", expr }, pos };
    }
    if (this.#isOp(":exists") || this.#isOp(":notexists")) {
      const exists = this.#next().text === ":exists";
      return { negated, match: { t: "exists", exists, key: this.#key() }, pos };
    }
    if (this.#t.type !== "word") this.#expected("a condition (a key, ':exists', ':notexists', '!' or '(')");
    const key = this.#key();
    return { negated, match: this.#match(key), pos };
  }

  #match(key: KeyRef): Match {
    const opTok = this.#t;
    const op = opTok.text;
    if (opTok.type !== "op") this.#expected("a comparison operator");
    this.#next();
    if (op === "==" || op === "!=") {
      const v = this.#value("a string, number, boolean or variable");
      if (v.kind === "string" || v.kind === "var") return this.#stringMatch({ t: "string", op, key, value: v });
      if (v.kind === "bool") return { t: "bool", op, key, value: v };
      return this.#numericMatch({ t: "numeric", op, key, value: v }, v.pos);
    }
    if (STRING_OPS.has(op)) {
      const value = this.#stringValue();
      if (op !== ":contains") this.#regex(value);
      return this.#stringMatch({ t: "string", op: op as ":contains", key, value });
    }
    if (NUMERIC_OPS.has(op)) {
      const v = this.#value("a number or variable");
      if (v.kind !== "int" && v.kind !== "float" && v.kind !== "var") this.#fail(v.pos, `expected a number or variable after '${op}'`);
      return this.#numericMatch({ t: "numeric", op: op as "<", key, value: v }, v.pos);
    }
    if (op === ":in") {
      const at = this.#pos();
      const values = this.#list(false);
      if (values.every((v) => v.kind === "string" || v.kind === "var")) return this.#stringMatch({ t: "stringList", op, key, values });
      if (values.every((v) => v.kind === "int" || v.kind === "float" || v.kind === "var")) return this.#numericMatch({ t: "numericList", key, values }, at);
      const odd = values.find((v) => v.kind !== "string" && v.kind !== "var") ?? values[0]!;
      this.#fail(odd.pos, "':in' takes a list of strings or a list of numbers, not both (nor booleans)");
    }
    if (op === ":containsany" || op === ":regexin") {
      const values = this.#list(false);
      const bad = values.find((v) => v.kind !== "string" && v.kind !== "var");
      if (bad) this.#fail(bad.pos, `'${op}' takes a list of strings`);
      if (op === ":regexin") values.forEach((v) => this.#regex(v));
      return this.#stringMatch({ t: "stringList", op, key, values });
    }
    if (op === "<<") {
      const ranges: { text: string; pos: Pos }[] = [];
      const one = () => {
        if (this.#t.type !== "string") this.#expected("a network range in quotes");
        const t = this.#next();
        if (!this.checks.isNetwork(t.value)) this.#fail(t, `Invalid ip range: ${t.value}.`);
        ranges.push({ text: t.value, pos: this.#pos(t) });
      };
      if (this.#accept("[")) {
        one();
        while (this.#accept(",")) one();
        this.#expect("]");
      } else one();
      return { t: "ipRange", key, ranges };
    }
    if (op === ":before" || op === ":after") return { t: "date", op, key, value: this.#stringValue() };
    if (LIST_OPS.has(op)) return { t: "list", op: op as ListOp, key, values: this.#list(true) };
    return this.#fail(opTok, `expected a comparison operator, found ${describe(opTok)}`);
  }

  #regex(v: Value): void {
    if (v.kind !== "string") return;
    const problem = this.checks.regexError(v.value);
    if (problem !== null) this.#fail(v.pos, `invalid regular expression ${JSON.stringify(v.value)}: ${problem}`);
  }

  /** IntelMQ's validate_string_match(): values compared with an IP address field must be IP addresses. */
  #stringMatch<M extends Extract<Match, { t: "string" | "stringList" }>>(m: M): M {
    if (!m.key.variable && this.fieldType(m.key.name) === "IPAddress") {
      for (const v of m.t === "string" ? [m.value] : m.values) {
        if (v.kind === "string" && !this.checks.isAddress(v.value)) this.#fail(v.pos, `Invalid IP address: ${v.value}.`);
      }
    }
    return m;
  }

  /** IntelMQ's validate_numeric_match(): the key must be a field of a numeric harmonization type. */
  #numericMatch<M extends Extract<Match, { t: "numeric" | "numericList" }>>(m: M, at: Pos): M {
    const type = m.key.variable ? undefined : this.fieldType(m.key.name);
    if (type === undefined) this.#fail(at, `Invalid key: ${m.key.name}.`);
    if (!NUMERIC_TYPES.has(type!)) this.#fail(at, `Incompatible type: ${type}.`);
    return m;
  }

  #key(): KeyRef {
    const t = this.#t;
    if (t.type === "word" && (KEY.test(t.text) || VARIABLE.test(t.text))) {
      this.#next();
      return { name: t.text, variable: t.text.startsWith("$"), pos: this.#pos(t) };
    }
    return this.#expected("a key (lower-case letters, digits, '_' and '.') or a $variable");
  }

  #value(what = "a value (string, number, boolean or $variable)"): Value {
    const t = this.#t;
    const pos = this.#pos(t);
    if (t.type === "string") { this.#next(); return { kind: "string", value: t.value, pos }; }
    if (t.type === "word") {
      const w = t.text;
      let v: Value | null = null;
      if (VARIABLE.test(w)) v = { kind: "var", name: w, pos };
      else if (STRICT_FLOAT.test(w)) v = { kind: "float", value: Number(w), pos };
      else if (INT.test(w)) v = { kind: "int", value: Number(w), pos };
      else if (Object.hasOwn(BOOLS, w)) v = { kind: "bool", value: BOOLS[w]!, pos };
      if (v) { this.#next(); return v; }
    }
    return this.#expected(what);
  }

  #stringValue(): Value {
    const v = this.#value("a string or variable");
    if (v.kind !== "string" && v.kind !== "var") this.#fail(v.pos, "expected a string or variable");
    return v;
  }

  /** '[' values ']'; `allowEmpty` for the list operators (IntelMQ's ListValue), not for :in and friends. */
  #list(allowEmpty: boolean): Value[] {
    this.#expect("[");
    const values: Value[] = [];
    if (allowEmpty && this.#accept("]")) return values;
    values.push(this.#value());
    while (this.#accept(",")) values.push(this.#value());
    this.#expect("]");
    return values;
  }

  #action(): Action | null {
    const t = this.#t;
    const pos = this.#pos(t);
    switch (t.text) {
      case "drop": this.#next(); return { t: "drop", pos };
      case "keep": this.#next(); return { t: "keep", pos };
      case "path": {
        this.#next();
        const one = () => {
          if (this.#t.type !== "string") this.#expected("a path name in quotes");
          return this.#next().value;
        };
        const paths: string[] = [];
        if (this.#accept("[")) {
          paths.push(one());
          while (this.#accept(",")) paths.push(one());
          this.#expect("]");
        } else paths.push(one());
        return { t: "path", paths, pos };
      }
      case "add": case "add!": case "update": {
        this.#next();
        const key = this.#key();
        const opTok = this.#t;
        if (!(opTok.type === "op" && (opTok.text === "=" || opTok.text === "+=" || opTok.text === "-="))) this.#expected("'=', '+=' or '-='");
        this.#next();
        return { t: t.text, key, op: opTok.text as AssignOp, value: this.#value(), pos };
      }
      case "remove": this.#next(); return { t: "remove", key: this.#key(), pos };
      case "append": case "append!": {
        this.#next();
        const key = this.#key();
        return { t: t.text, key, value: this.#value(), pos };
      }
    }
    if (VARIABLE.test(t.text)) {
      this.#next();
      this.#expect("=");
      const k = this.#t;
      if (!(k.type === "word" && KEY.test(k.text))) this.#expected("a key");
      this.#next();
      return { t: "setvar", name: t.text, key: k.text, pos };
    }
    return null;
  }
}
