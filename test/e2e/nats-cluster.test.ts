// SPDX-License-Identifier: AGPL-3.0-only
// A three-node NATS cluster with queues of three replicas (queue_replicas: 3) loses nothing: the
// benchmark pipeline (generic CSV parser -> taxonomy -> deduplicator -> file output, 50 reports,
// 50,000 lines of which 40,000 unique) runs while the stream leader of each queue in turn is
// SIGKILLed and started again; the output holds every unique event exactly once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectJetStream, queueStream, type Broker } from "../../shared/broker/index.js";
import { NatsCluster } from "../helpers/nats-cluster.js";
import { intelmqctl } from "../helpers/secure-nats.js";
import { TestPipeline, benchBots, benchReport, benchWorkload, countLines, sleep, waitFor } from "../helpers/pipeline.js";

const REPORTS = 50;
const BOTS = ["bench-parser", "bench-taxonomy", "bench-deduplicator", "bench-output"];
const QUEUES = BOTS.map((b) => `${b}-queue`);
const OUT = "var/lib/bots/file-output/events.txt";

/** The pipeline's own connection is to every node of the cluster. */
class ClusterPipeline extends TestPipeline {
  #b: Promise<Broker> | null = null;
  constructor(readonly urls: string[], bots: Record<string, unknown>, global: Record<string, unknown>) {
    super(urls.join(","), bots, global);
  }
  override broker(): Promise<Broker> {
    this.#b ??= connectJetStream({ servers: this.urls, name: "test-pipeline", reconnectTimeWaitMs: 200 });
    return this.#b;
  }
  override async close(): Promise<void> {
    await super.close();
    if (this.#b) await (await this.#b).close().catch(() => undefined);
  }
}

describe("a three-node cluster with R3 queues", { timeout: 300_000 }, () => {
  let files: string[] = [];
  let expected: Set<string>;
  let cluster: NatsCluster;

  /** Retry an operation that times out while the cluster elects its leaders (30 s at most). */
  async function untilReady(op: () => Promise<unknown>): Promise<void> {
    const until = Date.now() + 30_000;
    for (;;) {
      try { await op(); return; } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  before(async () => {
    files = benchWorkload(REPORTS);
    expected = new Set();
    for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) expected.add(line.split(",")[2]!);
    assert.equal(expected.size, 40_000);
    cluster = await NatsCluster.start(3);
  });
  after(async () => { await cluster?.stop(); });

  it("intelmqctl check warns when the cluster runs queues of one replica", async () => {
    const p = new ClusterPipeline(cluster.urls, benchBots(OUT, "r1"), {});
    try {
      // a cluster just started may still be electing its JetStream leader: the first calls can time out
      await untilReady(() => p.broker().then((b) => b.queues.ensure("r1-parser-queue", { replicas: 1 })));
      const r = await intelmqctl(["--type", "json", "check"], p.env);
      const lines = (JSON.parse(r.stdout) as { lines: [string, string][] }).lines;
      assert.ok(lines.some(([l, m]) => l === "warning" && m.includes("cluster 'intelmq'") && m.includes("'r1-parser-queue' have one replica")), JSON.stringify(lines));
      p.writeConfig(benchBots(OUT, "r1"), { queue_replicas: 3 });
      await untilReady(() => p.broker().then((b) => b.queues.ensure("r1-parser-queue", { replicas: 3 })));
      const r3 = await intelmqctl(["--type", "json", "check"], p.env);
      const lines3 = (JSON.parse(r3.stdout) as { lines: [string, string][] }).lines;
      assert.ok(!lines3.some(([, m]) => m.includes("cluster 'intelmq'")), JSON.stringify(lines3));
    } finally {
      await (await p.broker()).queues.delete("r1-parser-queue").catch(() => false);
      await p.close();
    }
  });

  it("delivers every unique event exactly once while each queue's stream leader is killed and restarted", async () => {
    const p = new ClusterPipeline(cluster.urls, benchBots(OUT), { queue_replicas: 3 });
    try {
      const b = await p.broker();
      for (const q of QUEUES) await untilReady(() => b.queues.ensure(q, { replicas: 3 }));
      for (const q of QUEUES) assert.equal((await cluster.currentReplicas(queueStream(q))) >= 1, true);
      for (const id of BOTS) p.start(id);
      const reports = files.map(benchReport);
      const injecting = (async () => {
        for (let i = 0; i < reports.length; i += 2) {
          await p.inject("bench-parser-queue", reports.slice(i, i + 2), `inject-${i}`);
          await sleep(700);
        }
      })();
      const file = join(p.root, OUT);
      const exited = () => BOTS.filter((id) => p.procs.get(id)!.child.exitCode !== null);
      // Events flow through all four bots before the first node goes.
      await waitFor(() => countLines(file) > 0 || exited().length > 0, 60_000, "the first events at the output");
      assert.deepEqual(exited(), [], "no bot ended");
      const linesAtFirstKill = countLines(file);
      const killed: string[] = [];
      for (const q of QUEUES) {
        let leader: string | null = null;
        await waitFor(async () => (leader = await cluster.leaderOf(queueStream(q))) !== null, 30_000, `a leader of ${q}`, 200);
        await cluster.kill(leader!);
        killed.push(`${q}:${leader!}`);
        await sleep(1500);
        cluster.restart(leader!);
        await cluster.ready();
        // Back in the cluster: every replica of the queue current again before the next kill.
        await waitFor(async () => (await cluster.currentReplicas(queueStream(q))) === 3, 60_000, `3 current replicas of ${q}`, 250);
      }
      await injecting;
      await waitFor(async () => {
        if (exited().length) return true;
        if (countLines(file) < 40_000) return false;
        for (const q of QUEUES) if ((await b.queues.depth(q).catch(() => 1)) !== 0) return false;
        return true;
      }, 180_000, "40,000 lines and empty queues", 500).catch((err: Error) => {
        throw new Error(`${err.message} (${countLines(file)} lines; killed ${killed.join(", ")})\n${BOTS.map((id) => p.log(id).split("\n").slice(-5).join("\n")).join("\n")}`);
      });
      assert.deepEqual(exited(), [], "no bot ended");
      await sleep(1500);
      const seen = new Map<string, number>();
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!line) continue;
        const url = String((JSON.parse(line) as Record<string, unknown>)["source.url"]);
        seen.set(url, (seen.get(url) ?? 0) + 1);
      }
      const dupes = [...seen].filter(([, n]) => n > 1).length;
      const missing = [...expected].filter((u) => !seen.has(u)).length;
      assert.deepEqual({ unique: seen.size, duplicated: dupes, missing }, { unique: 40_000, duplicated: 0, missing: 0 }, `killed ${killed.join(", ")}`);
      assert.equal(killed.length, 4);
      assert.ok(linesAtFirstKill < 40_000, "the leaders were killed while events flowed");
      for (const q of QUEUES) assert.equal((await (await p.broker()).queues.info(q)).exists, true);
    } finally {
      await p.close();
    }
  });
});
