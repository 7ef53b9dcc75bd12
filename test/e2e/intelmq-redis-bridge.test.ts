// SPDX-License-Identifier: AGPL-3.0-only
// Side by side with IntelMQ: events an IntelMQ writes into one of its Redis queues (IntelMQ's wire
// format) come through our pipeline (bridge collector -> taxonomy expert -> bridge output) into
// another IntelMQ queue, each once, across SIGKILLs of the bridge collector, also when a crash
// left messages in IntelMQ's internal queue that were already sent.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { TestPipeline, waitFor } from "../helpers/pipeline.js";

// A database of this test's own; keys unique per run.
const DB = 11;

/** An event as IntelMQ's pipeline carries it: its serialize(), "__type" last. */
function intelmqEvent(i: number): string {
  return JSON.stringify({
    "feed.name": "Bridge Feed", "feed.provider": "IntelMQ", "source.ip": `198.51.100.${i % 250}`, "source.port": 1000 + i,
    "classification.type": "scanner", "time.observation": "2024-09-16T10:00:00+00:00", "extra.n": i, "__type": "Event",
  });
}

describe("IntelMQ Redis bridge", { timeout: 180_000 }, () => {
  let nats: NatsServer;
  let redis: Redis;
  before(async () => {
    nats = await startNatsServer();
    redis = new Redis({ host: "127.0.0.1", port: 6379, db: DB, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  after(async () => {
    await nats.stop();
    redis.disconnect();
  });

  it("brings events from an IntelMQ queue through our pipeline into another IntelMQ queue, each once, across kills of the collector", async () => {
    const tag = randomBytes(4).toString("hex");
    const inQ = `bridge-${tag}-in-queue`;
    const outQ = `bridge-${tag}-out-queue`;
    const redisParams = { source_pipeline_db: DB, destination_pipeline_db: DB };
    const p = new TestPipeline(nats.url, {
      "bridge-collector": {
        module: "intelmq_nats.bots.collectors.intelmq_redis_bridge.collector", name: "Bridge", group: "Collector", enabled: true,
        parameters: { intelmq_queue: inQ, max_in_flight: 20, ...redisParams, destination_queues: { _default: ["bridge-taxonomy-queue"] } },
      },
      "bridge-taxonomy": {
        module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", enabled: true,
        parameters: { destination_queues: { _default: ["bridge-output-queue"] } },
      },
      "bridge-output": {
        module: "intelmq_nats.bots.outputs.intelmq_redis_bridge.output", name: "Bridge out", group: "Output", enabled: true,
        parameters: { intelmq_queues: [outQ], ...redisParams },
      },
    });
    try {
      const N1 = 300;
      const N2 = 200;
      // IntelMQ's producers LPUSH; the oldest is at the tail.
      for (let i = 0; i < N1; i++) await redis.lpush(inQ, intelmqEvent(i));
      p.start("bridge-taxonomy");
      p.start("bridge-output");
      p.start("bridge-collector");
      await waitFor(async () => (await redis.llen(outQ)) >= 50, 60_000, "the first events through");
      await p.kill("bridge-collector");
      // Pushed while our collector is down; and the state of a crash after the publish, before the
      // removal from the internal queue: two already sent messages are back in <queue>-internal ...
      for (let i = N1; i < N1 + N2; i++) await redis.lpush(inQ, intelmqEvent(i));
      await waitFor(async () => (await redis.llen(inQ)) + (await redis.llen(`${inQ}-internal`)) < N1 + N2, 60_000, "some taken before the kill");
      // ... and one taken from the queue but not sent before the crash.
      await redis.lpush(`${inQ}-internal`, intelmqEvent(0), intelmqEvent(1), intelmqEvent(N1 + N2));
      p.start("bridge-collector");
      const N = N1 + N2 + 1;
      await waitFor(async () => (await redis.llen(outQ)) >= N, 90_000, `all ${N} events in ${outQ}`);
      // A second kill and start with nothing new: nothing is sent again.
      await p.kill("bridge-collector");
      p.start("bridge-collector");
      await waitFor(async () => (await redis.llen(`${inQ}-internal`)) === 0 && (await redis.llen(inQ)) === 0, 30_000, "the IntelMQ queues drained");
      await new Promise((r) => setTimeout(r, 2000));

      const out = await redis.lrange(outQ, 0, -1);
      const ns = out.map((t) => (JSON.parse(t) as Record<string, unknown>)["extra.n"] as number).sort((a, b) => a - b);
      assert.deepEqual(ns, Array.from({ length: N }, (_, i) => i), "every event once");
      const first = JSON.parse(out[out.length - 1]!) as Record<string, unknown>;
      assert.equal(first.__type, "Event");
      assert.equal(first["classification.taxonomy"], "information-gathering", "processed by our expert");
      assert.equal(first["feed.name"], "Bridge Feed", "IntelMQ's fields as they came");
      assert.ok(out.every((t) => t.endsWith('"__type": "Event"}')), "IntelMQ's serialize(): __type last");
      assert.equal(await redis.llen(`${inQ}-bridge-failed`), 0);
    } finally {
      await p.close();
      await redis.del(inQ, `${inQ}-internal`, outQ, `${inQ}-bridge-failed`);
      const markers = await redis.keys("intelmq-nats:bridge-delivered:bridge-output:*");
      if (markers.length) await redis.del(...markers);
    }
  });
});
