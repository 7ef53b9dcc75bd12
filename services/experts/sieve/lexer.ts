// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The tokenizer of IntelMQ's sieve language. Words (keys, keywords, numbers, variables, booleans)
 * are one token kind: what a word means depends on where it stands, as in IntelMQ's grammar,
 * where `100.0` may be a key as well as a number. The parser classifies them.
 */

/** A problem in a sieve file, with its place (1-based line and column). */
export class SieveError extends Error {
  constructor(readonly file: string, readonly line: number, readonly col: number, readonly problem: string) {
    super(`${file}:${line}:${col}: ${problem}`);
    this.name = "SieveError";
  }
}

export type TokenType = "word" | "string" | "op" | "eof";

export interface Token {
  readonly type: TokenType;
  /** The text as written (strings: with their quotes). */
  readonly text: string;
  /** A string's value (quotes removed, the escaped delimiter unescaped). */
  readonly value: string;
  readonly line: number;
  readonly col: number;
}

const WORD_CHAR = /[A-Za-z0-9_.$]/;
const NUMBER_AT = /[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/y;
// Longest first: `<<` before `<`, `!=` before `!`.
const OPERATORS = ["==", "!=", "=~", "!~", "<=", ">=", "<<", "+=", "-=", "&&", "||", "<", ">", "=", "!", "(", ")", "{", "}", "[", "]", ","];

/** Split a sieve text into tokens; comments (`#`, `//` to the end of the line, `/* ... *\/`) and whitespace are skipped. */
export function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const fail = (at: number, problem: string, l = line, ls = lineStart): never => {
    throw new SieveError(file, l, at - ls + 1, problem);
  };
  const push = (type: TokenType, start: number, end: number, value = "", l = line, ls = lineStart) =>
    out.push({ type, text: text.slice(start, end), value, line: l, col: start - ls + 1 });
  /** Count the newlines in text[from, to) (strings and block comments may span lines). */
  const advanceLines = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (text.charCodeAt(k) === 10) { line++; lineStart = k + 1; }
  };

  while (i < n) {
    const c = text[i]!;
    if (c === "\n") { line++; i++; lineStart = i; continue; }
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v") { i++; continue; }
    if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) fail(i, "unterminated comment: '/*' without '*/'");
      advanceLines(i, end + 2);
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      // Only the delimiting quote can be escaped (as in IntelMQ's grammar); other backslashes stay.
      let j = i + 1;
      let value = "";
      while (j < n && text[j] !== c) {
        if (text[j] === "\\" && text[j + 1] === c) { value += c; j += 2; continue; }
        value += text[j];
        j++;
      }
      if (j >= n) fail(i, `unterminated string: no closing ${c}`);
      const l = line, ls = lineStart;
      advanceLines(i, j);
      push("string", i, j + 1, value, l, ls);
      i = j + 1;
      continue;
    }
    if (c === ":" && /[a-z]/.test(text[i + 1] ?? "")) {
      let j = i + 1;
      while (j < n && /[a-z]/.test(text[j]!)) j++;
      push("op", i, j);
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || ((c === "+" || c === "-" || c === ".") && /[0-9.]/.test(text[i + 1] ?? ""))) {
      NUMBER_AT.lastIndex = i;
      const m = NUMBER_AT.exec(text);
      if (m && m[0] !== "." && !WORD_CHAR.test(text[i + m[0].length] ?? "")) {
        push("word", i, i + m[0].length);
        i += m[0].length;
        continue;
      }
    }
    if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < n && WORD_CHAR.test(text[j]!)) j++;
      const w = text.slice(i, j);
      // `add!` and `append!` are single keywords; `add != 'x'` compares a key named add.
      if ((w === "add" || w === "append") && text[j] === "!" && text[j + 1] !== "=" && text[j + 1] !== "~") j++;
      push("word", i, j);
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) fail(i, `unexpected character ${JSON.stringify(c)}`);
    push("op", i, i + op!.length);
    i += op!.length;
  }
  out.push({ type: "eof", text: "", value: "", line, col: i - lineStart + 1 });
  return out;
}
