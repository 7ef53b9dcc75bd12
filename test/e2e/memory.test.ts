// SPDX-License-Identifier: AGPL-3.0-only
// Bounded memory: peak RSS (VmHWM) of each bot of the benchmark pipeline while it drains a backlog
// of 200,000 events, and of a parser reading a 20 MB report, through a real nats-server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { decodeEnvelope } from "../../shared/message/index.js";
import { take } from "../../shared/broker/testing.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, waitFor } from "../helpers/pipeline.js";

const LIMIT_MIB = 100;
const REPORTS = 200;
const OUT = "var/lib/bots/file-output/events.txt";
const BOTS = ["mem-parser", "mem-taxonomy", "mem-deduplicator", "mem-output"];

function peakMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  assert.ok(m, "VmHWM in /proc/<pid>/status");
  return Number(m[1]) / 1024;
}

describe("bounded memory", { timeout: 600_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("each bot of the pipeline drains a backlog of 200,000 events under 100 MiB", async (t) => {
    const p = new TestPipeline(nats.url, benchBots(OUT, "mem"), { queue_max_bytes: 4 * 1024 ** 3 });
    try {
      const files = benchWorkload(REPORTS);
      const b = await p.broker();
      for (const q of BOTS) await b.queues.ensure(`${q}-queue`);
      await p.inject("mem-parser-queue", files.map(benchReport), "mem");
      const peaks: Record<string, number> = {};
      for (const id of BOTS) {
        // One bot at a time, its whole input queued before it starts: a backlog, not a trickle.
        const proc = p.start(id);
        await waitFor(async () => (await b.queues.depth(`${id}-queue`)) === 0, 300_000, `${id} draining its queue`, 250);
        peaks[id] = Math.round(peakMiB(proc.child.pid!));
        await p.kill(id, "SIGTERM");
      }
      t.diagnostic(`peak RSS MiB: ${JSON.stringify(peaks)}`);
      for (const [id, mib] of Object.entries(peaks)) assert.ok(mib <= LIMIT_MIB, `${id} peaked at ${mib} MiB`);
    } finally {
      await p.close();
    }
  });

  it("a parser reads a 20 MB report under 100 MiB", async (t) => {
    const p = new TestPipeline(nats.url, benchBots(OUT, "big"), { queue_max_bytes: 4 * 1024 ** 3 });
    try {
      // One report of 20 MB: the workload's files, one after the other, without their repeated headers.
      const parts: Buffer[] = [];
      let size = 0;
      for (const f of benchWorkload(REPORTS)) {
        const b = readFileSync(f);
        parts.push(b);
        size += b.length;
        if (size >= 20 * 1024 * 1024) break;
      }
      const raw = Buffer.concat(parts);
      assert.ok(raw.length >= 20 * 1024 * 1024);
      const lines = raw.toString("latin1").split("\n").filter((l) => l !== "").length;
      const b = await p.broker();
      await b.queues.ensure("big-taxonomy-queue");
      await p.inject("big-parser-queue", [{ ...benchReport(benchWorkload(REPORTS)[0]!), raw: raw.toString("base64") }], "big");
      const proc = p.start("big-parser");
      await waitFor(async () => (await b.queues.depth("big-parser-queue")) === 0, 300_000, "the parser reading the report", 250);
      const peak = Math.round(peakMiB(proc.child.pid!));
      await p.kill("big-parser", "SIGTERM");
      // Every line became an event: the report was read to its end, not only to the memory's.
      const envelopes = await b.queues.depth("big-taxonomy-queue");
      const sub = await b.queues.consume("big-taxonomy-queue", { maxInFlight: 1000 });
      let events = 0;
      for (const d of await take(sub[Symbol.asyncIterator](), envelopes, 60_000)) {
        events += decodeEnvelope(d.data).length;
        await d.ack();
      }
      await sub.stop();
      t.diagnostic(`report ${(raw.length / 1024 / 1024).toFixed(1)} MiB, ${lines} lines, ${events} events out, peak RSS ${peak} MiB`);
      assert.equal(events, lines);
      assert.ok(peak <= LIMIT_MIB, `the parser peaked at ${peak} MiB`);
    } finally {
      await p.close();
    }
  });
});
