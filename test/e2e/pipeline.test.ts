// SPDX-License-Identifier: AGPL-3.0-only
// The benchmark pipeline (generic CSV parser -> taxonomy -> deduplicator -> file output) as
// separate intelmq-bot processes on a nats-server of its own, with 50,000 workload lines of
// which 40,000 are unique: the output must hold each unique event exactly once, also when the
// taxonomy expert is SIGKILLed repeatedly and when the nats-server is down for 5 seconds.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, countLines, sleep, waitFor } from "../helpers/pipeline.js";

const REPORTS = 50;
const BOTS = ["bench-parser", "bench-taxonomy", "bench-deduplicator", "bench-output"];
const QUEUES = BOTS.map((b) => `${b}-queue`);
let files: string[] = [];
let expectedUrls: Set<string>;

before(() => {
  files = benchWorkload(REPORTS);
  expectedUrls = new Set();
  for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) expectedUrls.add(line.split(",")[2]);
  assert.equal(expectedUrls.size, 40_000, "the workload has 40,000 unique lines");
});

/** Every output line parsed; asserts each expected event is there exactly once. */
function assertExactlyOnce(outputFile: string): void {
  const lines = readFileSync(outputFile, "utf8").split("\n").filter(Boolean);
  const seen = new Map<string, number>();
  for (const line of lines) {
    const ev = JSON.parse(line) as Record<string, unknown>;
    const url = String(ev["source.url"]);
    seen.set(url, (seen.get(url) ?? 0) + 1);
  }
  const dupes = [...seen].filter(([, n]) => n > 1);
  const missing = [...expectedUrls].filter((u) => !seen.has(u));
  assert.deepEqual({ lines: lines.length, duplicated: dupes.length, missing: missing.length }, { lines: 40_000, duplicated: 0, missing: 0 });
  const sample = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.equal(sample["feed.name"], "Bench Feed");
  assert.ok(typeof sample["classification.taxonomy"] === "string", "the taxonomy expert ran");
  assert.equal(sample.raw, undefined, "the file output drops raw by default");
}

async function drained(p: TestPipeline): Promise<boolean> {
  const b = await p.broker();
  for (const q of QUEUES) {
    if ((await b.queues.depth(q)) !== 0) return false;
  }
  return true;
}

async function settle(p: TestPipeline, out: string): Promise<void> {
  try {
    await waitFor(async () => countLines(out) >= 40_000 && (await drained(p)), 240_000, "40,000 lines and empty queues", 250);
  } catch (err) {
    // Where it stopped, for the one who reads the failure: lines, each queue, the dumps, the bots' last words.
    const b = await p.broker();
    const depths = await Promise.all(QUEUES.map(async (q) => { const i = await b.queues.info(q); return `${q}=${i.depth} (stream ${i.stored})`; }));
    const tails = BOTS.map((id) => `${id}: ${p.log(id).trim().split("\n").slice(-3).join(" | ")}`);
    throw new Error(`${(err as Error).message} (lines ${countLines(out)}, ${depths.join(" ")}, dumps ${(await b.dumps.read()).length})\n${tails.join("\n")}`, { cause: err });
  }
  await sleep(1500); // anything late would show up now
}

const OUT = "var/lib/bots/file-output/events.txt";

/** The four bots on a fresh nats-server; `scenario` feeds and disturbs them; then each event must be there once. */
async function pipelineRun(scenario: (p: TestPipeline, nats: NatsServer) => Promise<void>): Promise<void> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, benchBots(OUT));
  try {
    for (const id of BOTS) p.start(id);
    await scenario(p, nats);
    await settle(p, join(p.root, OUT));
    assertExactlyOnce(join(p.root, OUT));
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** Inject the workload 5 reports at a time, `pauseMs` apart, so that events keep flowing for a while. */
async function injectGradually(p: TestPipeline, pauseMs: number): Promise<void> {
  const reports = files.map(benchReport);
  for (let i = 0; i < reports.length; i += 5) {
    await p.inject("bench-parser-queue", reports.slice(i, i + 5), `inject-${i}`);
    await sleep(pauseMs);
  }
}

describe("pipeline on JetStream", { timeout: 600_000 }, () => {
  it("writes each of the 40,000 unique events exactly once", async () => {
    await pipelineRun(async (p) => {
      await p.inject("bench-parser-queue", files.map(benchReport));
    });
  });

  it("survives the taxonomy expert being SIGKILLed 6 times while events flow", async () => {
    await pipelineRun(async (p) => {
      const b = await p.broker();
      const injecting = injectGradually(p, 250);
      let killsDuringFlow = 0;
      for (let k = 0; k < 6; k++) {
        // let it work on events, then kill it mid-stream
        await waitFor(async () => (await b.queues.depth("bench-taxonomy-queue")) > 0 || countLines(join(p.root, OUT)) >= 40_000, 60_000, "events for the taxonomy expert");
        await sleep(400);
        if ((await b.queues.depth("bench-taxonomy-queue")) > 0) killsDuringFlow++;
        await p.kill("bench-taxonomy", "SIGKILL");
        p.start("bench-taxonomy");
      }
      await injecting;
      assert.ok(killsDuringFlow >= 5, `killed ${killsDuringFlow} times while its queue held events`);
    });
  });

  it("loses and duplicates nothing when the nats-server is down for 5 seconds", async () => {
    await pipelineRun(async (p, nats) => {
      const injecting = injectGradually(p, 300);
      await waitFor(() => countLines(join(p.root, OUT)) > 1_000, 120_000, "the first events in the output");
      assert.ok(countLines(join(p.root, OUT)) < 40_000, "the outage happens while events flow");
      await nats.stop({ keepStore: true });
      await sleep(5_000);
      await nats.restart();
      await injecting;
      for (const id of BOTS) assert.equal(p.procs.get(id)?.child.exitCode, null, `${id} kept running through the outage`);
    });
  });
});
