// SPDX-License-Identifier: AGPL-3.0-only
/** The benchmark pipeline on 20 reports (16,000 unique events) for the fault-injection tests. */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "./nats-server.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, countLines, sleep, waitFor } from "./pipeline.js";

export const REPORTS = 20;
export const UNIQUE = 16_000;
export const BOTS = ["bench-parser", "bench-taxonomy", "bench-deduplicator", "bench-output"];
export const QUEUES = BOTS.map((b) => `${b}-queue`);
export const OUT = "var/lib/bots/file-output/events.txt";
let files: string[] = [];
let expected: Set<string>;

/** The workload's files (written on first use) and the URLs of its unique lines. */
export function workload(): { files: string[]; expected: Set<string> } {
  if (!files.length) {
    files = benchWorkload(REPORTS);
    expected = new Set();
    for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) expected.add(line.split(",")[2]!);
    assert.equal(expected.size, UNIQUE);
  }
  return { files, expected };
}

/** Every line of the given files; each expected event exactly once, nothing else. */
export function assertExactlyOnce(paths: string[]): void {
  const seen = new Map<string, number>();
  let lines = 0;
  for (const path of paths) {
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (!line) continue;
      lines++;
      const url = String((JSON.parse(line) as Record<string, unknown>)["source.url"]);
      seen.set(url, (seen.get(url) ?? 0) + 1);
    }
  }
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  const missing = [...workload().expected].filter((u) => !seen.has(u)).length;
  assert.deepEqual({ lines, duplicated, missing }, { lines: UNIQUE, duplicated: 0, missing: 0 });
}

export async function drained(p: TestPipeline): Promise<boolean> {
  const b = await p.broker();
  try {
    for (const q of QUEUES) if ((await b.queues.depth(q)) !== 0) return false;
  } catch {
    // The test's own connection, reconnecting after a broker fault, may time out a request: the
    // observer failed, not the pipeline; ask again (waitFor's deadline still holds).
    return false;
  }
  return true;
}

export async function dumpsOf(p: TestPipeline, botId?: string): Promise<number> {
  return (await (await p.broker()).dumps.read(botId)).length;
}

export async function injectGradually(p: TestPipeline, pauseMs: number): Promise<void> {
  const reports = workload().files.map(benchReport);
  for (let i = 0; i < reports.length; i += 2) {
    await p.inject("bench-parser-queue", reports.slice(i, i + 2), `inject-${i}`);
    await sleep(pauseMs);
  }
}

/** The benchmark pipeline on a nats-server of its own; `scenario` feeds and disturbs it. */
export async function run(
  scenario: (p: TestPipeline, nats: NatsServer) => Promise<string[] | void>, global: Record<string, unknown> = {}, after?: (p: TestPipeline) => Promise<void>,
): Promise<void> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, benchBots(OUT), global);
  try {
    for (const id of BOTS) p.start(id);
    const outputs = [OUT, ...((await scenario(p, nats)) ?? [])].map((f) => join(p.root, f));
    const lines = () => outputs.reduce((n, f) => n + countLines(f), 0);
    try {
      await waitFor(async () => lines() >= UNIQUE && (await drained(p)), 240_000, `${UNIQUE} lines and empty queues`, 250);
    } catch (err) {
      const b = await p.broker();
      const depths = await Promise.all(QUEUES.map(async (q) => {
        const i = await b.queues.info(q);
        return `${q}=${i.depth} (stream ${i.stored})`;
      }));
      throw new Error(`${(err as Error).message} (lines ${lines()}, ${depths.join(" ")})`, { cause: err });
    }
    await sleep(1500); // anything late would show up now
    assertExactlyOnce(outputs);
    assert.equal(await dumpsOf(p), 0, "nothing in the dumps");
    await after?.(p);
  } finally {
    await p.close();
    await nats.stop();
  }
}

