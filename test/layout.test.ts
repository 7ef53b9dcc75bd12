// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The shape of the code base, which no compiler checks: dependencies point one way (shared/
 * knows neither the bots nor the CLIs), the NATS client stays inside shared/broker, every shared
 * module is used through its index.ts, and no file of shared/ grows past 400 lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { src } from "./helpers/paths.js";

const MAX_LINES = 400;

/**
 * Files of shared/ allowed over MAX_LINES for now, with the reason. The test fails when one of
 * them is no longer over the limit, so that the entry goes.
 */
const OVER_LIMIT: Record<string, string> = {};

/** Project-relative paths of the .ts and .mjs files under `dir`. */
function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(src(dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) files(p, out);
    else if (/\.(ts|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Every module a file imports or re-exports, statically or dynamically (type-only imports too). */
function specifiers(file: string): string[] {
  const text = readFileSync(src(file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1]!);
  return out;
}

/** A relative specifier as a project-relative path of the source file it names. */
function target(file: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  return relative(src(), resolve(src(dirname(file)), spec)).replace(/\.js$/, ".ts");
}

const isTest = (f: string) => f.endsWith(".test.ts");
const SOURCES = ["shared", "services", "cli", "bin", "scripts"].flatMap((d) => files(d));

test("the helpers of this test see imports of every kind", () => {
  // A check that finds nothing must be able to find something.
  assert.deepEqual(specifiers("test/layout.test.ts").filter((s) => s.startsWith("node:")).sort(), ["node:assert/strict", "node:fs", "node:path", "node:test"]);
  assert.ok(specifiers("shared/runtime/index.ts").includes("./runner.js"));
  assert.ok(specifiers("services/registry.gen.ts").some((s) => s.startsWith("./")), "dynamic imports");
  assert.equal(target("shared/runtime/index.ts", "../errors/index.js"), "shared/errors/index.ts");
});

test("no file under shared/ imports from services/ or cli/", () => {
  const bad: string[] = [];
  for (const f of files("shared")) {
    for (const s of specifiers(f)) {
      const t = target(f, s);
      if (t && /^(services|cli)\//.test(t)) bad.push(`${f} imports ${s}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("only files under shared/broker/ import the NATS client (@nats-io)", () => {
  // The tests under test/ may look at the server with the client itself.
  const bad: string[] = [];
  for (const f of SOURCES) {
    if (f.startsWith("shared/broker/")) continue;
    for (const s of specifiers(f)) if (s.startsWith("@nats-io/")) bad.push(`${f} imports ${s}`);
  }
  assert.deepEqual(bad, []);
});

test("a shared module is used from outside through its index.ts only", () => {
  const bad: string[] = [];
  for (const f of SOURCES) {
    if (isTest(f)) continue; // a test may reach into what it tests
    const own = /^shared\/([^/]+)\//.exec(f)?.[1];
    for (const s of specifiers(f)) {
      const m = /^shared\/([^/]+)\/(.+)$/.exec(target(f, s) ?? "");
      if (m && m[1] !== own && m[2] !== "index.ts") bad.push(`${f} imports ${s}`);
    }
  }
  assert.deepEqual(bad, []);
});

test(`no .ts file under shared/ is over ${MAX_LINES} lines`, () => {
  const over: string[] = [];
  for (const f of files("shared")) {
    if (!f.endsWith(".ts")) continue;
    const lines = readFileSync(src(f), "utf8").replace(/\n$/, "").split("\n").length;
    if (lines > MAX_LINES && !(f in OVER_LIMIT)) over.push(`${f}: ${lines} lines`);
    if (lines <= MAX_LINES && f in OVER_LIMIT) over.push(`${f}: ${lines} lines now; remove it from OVER_LIMIT`);
  }
  for (const f of Object.keys(OVER_LIMIT)) assert.ok(files(dirname(f)).includes(f), `${f} (OVER_LIMIT) exists`);
  assert.deepEqual(over, []);
});

test("a bot imports the SDK through its bot-facing entry, shared/sdk, only", () => {
  // Its tests may also use the runtime's and the broker's own entries (startBot, MemoryBroker).
  const bad: string[] = [];
  const bots = files("services").filter((f) => !f.startsWith("services/control/") && /^services\/[a-z]+\/[^/]+\//.test(f) && !isTest(f));
  assert.ok(bots.length > 40, "the bots are found");
  for (const f of bots) {
    for (const s of specifiers(f)) {
      const m = /^shared\/([^/]+)\//.exec(target(f, s) ?? "");
      if (m && m[1] !== "sdk") bad.push(`${f} imports ${s}`);
    }
  }
  assert.deepEqual(bad, []);
});
