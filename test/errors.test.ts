// SPDX-License-Identifier: AGPL-3.0-only
/**
 * One catalogue of error codes (shared/errors/catalogue.ts): every code in it once, every class
 * named as it is, no code used that it lacks, and docs/errors.md saying the same in both directions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as errors from "../shared/errors/index.js";
import { ERROR_CATALOGUE, ErrorCode, ImqError, errorMessage, hasCode } from "../shared/errors/index.js";
import { SizeLimitError } from "../services/collectors/http/archive.js";
import { TlsVerificationError } from "../services/collectors/http/index.js";
import { exceptionLine } from "../shared/runtime/util.js";
import { src } from "./helpers/paths.js";

/** The classes of entries defined outside shared/errors. */
const ELSEWHERE: Record<string, unknown> = { SizeLimitError, TlsVerificationError };

/** One instance of a catalogued class (every constructor takes a string first). */
function instance(className: string): Error & { code?: unknown; intelmqName?: unknown } {
  if (className === "TlsVerificationError") return new TlsVerificationError("https://example.org/", Object.assign(new Error("self-signed"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }));
  if (className === "SizeLimitError") return new SizeLimitError("a download", 10);
  const C = (errors as unknown as Record<string, new (a: string, b: string) => Error>)[className];
  assert.equal(typeof C, "function", `shared/errors exports ${className}`);
  return className === "PythonError" ? new C("ValueError", "x") : new C("x", "y");
}

test("the catalogue holds every ErrorCode once, each with its own class", () => {
  const codes = ERROR_CATALOGUE.map((e) => e.code);
  assert.deepEqual([...codes].sort(), Object.values(ErrorCode).sort());
  assert.equal(new Set(ERROR_CATALOGUE.map((e) => e.className)).size, ERROR_CATALOGUE.length, "one class per code");
  for (const e of ERROR_CATALOGUE) assert.ok(e.meaning.length > 20, `${e.code} says what it means`);
});

test("an error's name is its own class's name; its code and IntelMQ name are the catalogue's", () => {
  for (const e of ERROR_CATALOGUE) {
    const err = instance(e.className);
    assert.equal(err.name, e.className, e.className);
    assert.equal(err.constructor.name, e.className);
    assert.equal(err.code, e.code, e.className);
    assert.ok(hasCode(err, e.code));
    if (e.module) {
      assert.equal(ELSEWHERE[e.className], err.constructor, `${e.className} is the class of ${e.module}`);
      continue;
    }
    assert.ok(err instanceof ImqError, e.className);
    const names = e.intelmqName === null ? [] : typeof e.intelmqName === "string" ? [e.intelmqName] : e.intelmqName;
    assert.ok(names.includes(err.intelmqName as string), `${e.className}: IntelMQ's ${String(err.intelmqName)} is in the catalogue`);
  }
  // Every error class shared/errors exports is in the catalogue.
  const exported = Object.entries(errors).filter(([, v]) => typeof v === "function" && v.prototype instanceof ImqError).map(([k]) => k);
  assert.deepEqual(exported.filter((k) => !ERROR_CATALOGUE.some((e) => e.className === k)), []);
});

test("dumps name IntelMQ's exceptions as IntelMQ does, whatever the class is called", () => {
  assert.equal(exceptionLine(new errors.BrokerUnavailableError("gone")), "intelmq.lib.exceptions.PipelineError: gone");
  assert.equal(exceptionLine(new errors.InvalidKey("x.y")), "intelmq.lib.exceptions.InvalidKey: invalid key 'x.y'");
  assert.equal(exceptionLine(new errors.LineError("no record")), "ValueError: no record");
  assert.equal(exceptionLine(new errors.PythonError("KeyError", "'x'")), "KeyError: 'x'");
  assert.equal(exceptionLine(new TypeError("t")), "TypeError: t");
  assert.equal(errorMessage(new errors.PipelineError("p")), "pipeline failed - 'p'");
  assert.equal(errorMessage(42), "42");
});

/** Source files of the project, without tests (they make up codes on purpose). */
function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

test("no code is used that the catalogue lacks", () => {
  const known = new Set<string>(Object.values(ErrorCode));
  const unknown: string[] = [];
  for (const dir of ["shared", "services", "cli", "scripts", "bin"]) {
    for (const f of sources(src(dir))) {
      for (const m of readFileSync(f, "utf8").matchAll(/\bIMQ_ERR_[A-Z_]+\b/g)) if (!known.has(m[0])) unknown.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(unknown, []);
});

/** The rows of docs/errors.md's table: code, class, IntelMQ's name, meaning. */
function pageRows(): string[][] {
  const rows = readFileSync(src("docs", "errors.md"), "utf8").split("\n").filter((l) => /^\| `IMQ_ERR_/.test(l));
  return rows.map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
}

test("docs/errors.md lists exactly the catalogue: every code with its class, IntelMQ name and meaning", () => {
  const rows = pageRows();
  const byCode = new Map(rows.map((r) => [r[0]!.replace(/`/g, ""), r]));
  assert.equal(byCode.size, rows.length, "each code once on the page");
  // catalogue -> page
  for (const e of ERROR_CATALOGUE) {
    const row = byCode.get(e.code);
    assert.ok(row, `docs/errors.md lacks ${e.code}: run npm run gen:errors`);
    assert.match(row[1]!, new RegExp(`^\`${e.className}\``), `${e.code}: class`);
    const names = e.intelmqName === null ? ["none"] : (typeof e.intelmqName === "string" ? [e.intelmqName] : e.intelmqName).map((n) => `\`${n}\``);
    assert.equal(row[2], names.join(", "), `${e.code}: IntelMQ's name`);
    assert.equal(row[3]!.replace(/\\\|/g, "|"), e.meaning, `${e.code}: meaning`);
  }
  // page -> catalogue
  const codes = new Set<string>(ERROR_CATALOGUE.map((e) => e.code));
  assert.deepEqual([...byCode.keys()].filter((c) => !codes.has(c)), [], "codes on the page that the catalogue lacks");
  // and the page is exactly what the generator writes
  const r = spawnSync(process.execPath, [src("scripts", "gen-errors-doc.mjs"), "--check"], { cwd: src(), encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
});
