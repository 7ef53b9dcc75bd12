// SPDX-License-Identifier: AGPL-3.0-only
/** A bot process started without BOT_NODE_FLAGS still keeps its young generation at their size. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BOT_NODE_FLAGS, botNodeFlags } from "./index.js";
import { botModuleOf } from "./heap.js";

const heapModule = new URL("./heap.js", import.meta.url).href;

/**
 * A child process that (maybe) calls holdBotHeap(), then allocates as a bot does (objects that
 * live for a while, the event loop turning between bursts): what holdBotHeap() applied and the
 * largest young generation seen, in MiB.
 */
function run(hold: boolean, nodeFlags: string[] = [], env: Record<string, string> = {}): { applied: string[]; youngMiB: number } {
  const script = `
    import { getHeapSpaceStatistics } from "node:v8";
    const { holdBotHeap } = await import(${JSON.stringify(heapModule)});
    const applied = ${hold} ? holdBotHeap() : [];
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576;
    let max = 0;
    const kept = [];
    for (let round = 0; round < 1500; round++) {
      const burst = [];
      for (let i = 0; i < 2000; i++) burst.push({ key: "k" + i + ":" + round, list: [i], nested: { n: i } });
      kept.push(burst);
      if (kept.length > 30) kept.shift();
      await new Promise((r) => setImmediate(r));
      max = Math.max(max, young());
    }
    process.stdout.write(JSON.stringify({ applied, youngMiB: max }));
  `;
  const { INTELMQ_BOT_NODE_FLAGS: _drop, NODE_OPTIONS: _none, ...base } = process.env;
  const out = execFileSync(process.execPath, [...nodeFlags, "--input-type=module", "-e", script], { env: { ...base, ...env }, encoding: "utf8" });
  return JSON.parse(out) as { applied: string[]; youngMiB: number };
}

const semi = Number(BOT_NODE_FLAGS.find((f) => f.startsWith("--max-semi-space-size="))!.split("=")[1]);

test("without BOT_NODE_FLAGS: the young generation grows to its size and no further, the heap's growing percent is set", { timeout: 120_000 }, () => {
  const free = run(false);
  assert.ok(free.youngMiB > 2 * semi, `V8's own default grows past ${2 * semi} MiB (got ${free.youngMiB})`);
  const held = run(true);
  assert.deepEqual(held.applied, ["--heap-growing-percent=20", `young generation held at ${semi} MiB semi-spaces`]);
  assert.ok(held.youngMiB <= 2 * semi, `held at ${2 * semi} MiB (got ${held.youngMiB})`);
  assert.ok(held.youngMiB >= 2 * semi - 1, `and grown to it (got ${held.youngMiB})`);
});

test("flags the process was started with, or INTELMQ_BOT_NODE_FLAGS, are left as they are", { timeout: 120_000 }, () => {
  const given = run(true, ["--max-semi-space-size=2"]);
  assert.deepEqual(given.applied, ["--heap-growing-percent=20"]);
  assert.ok(given.youngMiB <= 4 + 2, `2 MiB semi-spaces as given (got ${given.youngMiB})`);
  assert.deepEqual(run(true, ["--max-semi-space-size=2", "--heap-growing-percent=30"]).applied, []);
  assert.deepEqual(run(true, ["--max_semi_space_size=2", "--heap_growing_percent=30"]).applied, [], "V8's other spelling");
  assert.deepEqual(run(true, [], { INTELMQ_BOT_NODE_FLAGS: "" }).applied, []);
});

test("the bot's module is read from runtime.yaml's text, so a bot started by hand gets its module's flags", () => {
  const yaml = [
    "global:", "  batch_size: 100", "",
    "parser-1:", "  module: intelmq.bots.parsers.generic.parser_csv", "  parameters:", "    module: not.this.one",
    "'dedup.1':  # quoted", "  name: Deduplicator", "  parameters:", "    module: nested.value", "  module: \"intelmq.bots.experts.deduplicator.expert\"",
    "plain:", "  parameters: {}", "other:", "  module: intelmq.bots.outputs.file.output",
  ].join("\n");
  assert.equal(botModuleOf(yaml, "parser-1"), "intelmq.bots.parsers.generic.parser_csv");
  assert.equal(botModuleOf(yaml, "dedup.1"), "intelmq.bots.experts.deduplicator.expert", "quoted key, a nested module: skipped");
  assert.equal(botModuleOf(yaml, "plain"), undefined, "not past the next bot");
  assert.equal(botModuleOf(yaml, "dedup"), undefined);
  assert.equal(botModuleOf(yaml, "dedup-1"), undefined, "the key is not a pattern");
  assert.deepEqual(botNodeFlags(botModuleOf(yaml, "dedup.1")), ["--heap-growing-percent=20", "--max-semi-space-size=2"]);

  const root = mkdtempSync(join(tmpdir(), "intelmq-heap-"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc", "runtime.yaml"), yaml);
  const script = `
    const { holdBotHeapFor } = await import(${JSON.stringify(heapModule)});
    process.stdout.write(JSON.stringify(holdBotHeapFor("dedup.1")));`;
  const { INTELMQ_BOT_NODE_FLAGS: _drop, NODE_OPTIONS: _none, ...base } = process.env;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...base, INTELMQ_ROOT_DIR: root }, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), ["--heap-growing-percent=20", "young generation held at 2 MiB semi-spaces"]);
  rmSync(root, { recursive: true, force: true });
});
