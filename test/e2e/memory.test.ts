// SPDX-License-Identifier: AGPL-3.0-only
// Bounded memory: peak RSS (VmHWM) of each bot of the benchmark pipeline while it drains a backlog
// of 200,000 events, through a real nats-server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
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
});
