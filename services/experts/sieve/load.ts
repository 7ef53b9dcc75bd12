// SPDX-License-Identifier: AGPL-3.0-only
/** Reading sieve files: parse, check against the harmonization, compile; and the warnings `intelmqctl check` gives. */
import { readFileSync } from "node:fs";
import { errorMessage, parseIp, parseNetwork, pyRegex, type Harmonization } from "../../../shared/sdk/index.js";
import type { Match, SieveFile, Statement, Value } from "./ast.js";
import { Compiler, type CompileEnv, type Run } from "./compile.js";
import { parseAbsoluteMicros, parseRelativeMinutes } from "./dates.js";
import { parseSieve } from "./parser.js";

const CHECKS = {
  isAddress: (s: string) => parseIp(s) !== null,
  isNetwork: (s: string) => parseNetwork(s, false) !== null,
  regexError: (p: string) => {
    try {
      pyRegex(p);
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  },
};

/** Parse one sieve text (file: the name its errors show). Throws SieveError. */
export function parseText(text: string, file: string, h: Harmonization): SieveFile {
  const event = h.table.event ?? {};
  return parseSieve(text, file, (key) => (Object.hasOwn(event, key) ? event[key]!.type : undefined), CHECKS);
}

/** Read and parse the files in order. Throws SieveError, or an Error naming a file that cannot be read. */
export function readSieveFiles(paths: readonly string[], h: Harmonization): SieveFile[] {
  return paths.map((path) => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new Error(`${path}: cannot read the sieve file: ${errorMessage(err)}`, { cause: err });
    }
    return parseText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, path, h);
  });
}

/** A top-level statement of a file, compiled, with where it stands (for the log). */
export interface TopStatement { readonly run: Run; readonly where: string }

/** Compile the files' statements, in order, as one program. */
export function compileFiles(files: readonly SieveFile[], env: CompileEnv): TopStatement[] {
  const c = new Compiler(env);
  return files.flatMap((f) => f.statements.map((s) => ({ run: c.statement(s), where: `${f.file}:${s.pos.line}:${s.pos.col}` })));
}

/**
 * What loads but fails events at run time (as in IntelMQ): times that are neither absolute nor
 * relative, and keys the harmonization does not know in actions that set them.
 */
export function lintFiles(files: readonly SieveFile[], h: Harmonization): string[] {
  const out: string[] = [];
  for (const f of files) {
    const at = (p: { line: number; col: number }) => `${f.file}:${p.line}:${p.col}`;
    const time = (v: Value, relativeOnly: boolean) => {
      if (v.kind !== "string") return;
      if (parseRelativeMinutes(v.value) !== null || (!relativeOnly && parseAbsoluteMicros(v.value) !== null)) return;
      out.push(`${at(v.pos)}: ${JSON.stringify(v.value)} is no ${relativeOnly ? "" : "date nor "}relative time ('<n> <unit>'): events reaching it fail.`);
    };
    const match = (m: Match): void => {
      if (m.t === "group") m.expr.forEach((c) => c.forEach((x) => match(x.match)));
      else if (m.t === "date") time(m.value, false);
    };
    const walk = (list: readonly Statement[]): void => {
      for (const s of list) {
        if (s.t === "if") {
          for (const c of s.clauses) {
            c.expr?.forEach((conj) => conj.forEach((x) => match(x.match)));
            walk(c.body);
          }
          continue;
        }
        if ((s.t === "add" || s.t === "add!" || s.t === "update") && s.op !== "=") time(s.value, true);
        if ((s.t === "add" || s.t === "add!" || s.t === "append" || s.t === "append!") && !s.key.variable && !h.field("Event", s.key.name)) {
          out.push(`${at(s.key.pos)}: ${s.key.name} is no field of the harmonization: events reaching '${s.t}' fail.`);
        }
      }
    };
    walk(f.statements);
  }
  return out;
}
