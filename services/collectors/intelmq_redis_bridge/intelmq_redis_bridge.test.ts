// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bridge collector against the real Redis (a database of its own, keys unique per run):
 * IntelMQ's Events go on as Events, Reports as Reports, a text that is no IntelMQ message is set
 * aside in Redis, and the internal list is empty once everything was confirmed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { decodeEnvelope } from "../../../shared/message/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import bot, { failedList } from "./index.js";

const DB = 11;
const log = createLogger({ level: "CRITICAL" });

async function taken(broker: MemoryBroker, queue: string): Promise<Record<string, unknown>[]> {
  const depth = await broker.queues.depth(queue);
  const out: Record<string, unknown>[] = [];
  const sub = await broker.queues.consume(queue);
  const it = sub[Symbol.asyncIterator]();
  for (let i = 0; i < depth; i++) {
    const d = (await it.next()).value!;
    out.push(...decodeEnvelope(d.data));
    await d.ack();
  }
  await sub.stop();
  return out;
}

test("intelmq_redis_bridge collector: Events stay Events, Reports stay Reports, broken texts are set aside", async () => {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: DB, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const queue = `bridge-unit-${randomBytes(4).toString("hex")}-queue`;
  const broker = new MemoryBroker();
  const event = JSON.stringify({ "source.ip": "192.0.2.1", "classification.type": "scanner", "feed.name": "IntelMQ Feed", __type: "Event" });
  const bare = JSON.stringify({ "source.ip": "192.0.2.2", "classification.type": "scanner", __type: "Event" });
  const report = JSON.stringify({ raw: Buffer.from("192.0.2.3\n").toString("base64"), __type: "Report" });
  await redis.lpush(queue, event, bare, report, "not json", JSON.stringify({ "source.ip": "not an ip", __type: "Event" }));
  const h = await startBot({
    def: bot, botId: "bridge-collector", broker, logger: log,
    params: { intelmq_queue: queue, source_pipeline_db: DB, name: "Bridge", destination_queues: "out" },
  });
  try {
    await waitFor(async () => (await broker.queues.depth("out")) === 3 && (await redis.llen(`${queue}-internal`)) === 0, 20_000, "three messages through");
    const got = await taken(broker, "out");
    assert.deepEqual(got.map((m) => m.__type), ["Event", "Event", "Report"], "oldest first, kinds kept");
    assert.equal(got[0]!["feed.name"], "IntelMQ Feed");
    assert.equal(got[1]!["feed.name"], undefined, "an Event gets no feed.* of the bridge");
    assert.equal(got[2]!["feed.name"], "Bridge", "a Report does, as from any collector");
    assert.equal(await redis.llen(failedList(queue)), 2);
    assert.equal(await redis.llen(queue), 0);
  } finally {
    await h.stop();
    await broker.close();
    await redis.del(queue, `${queue}-internal`, failedList(queue));
    redis.disconnect();
  }
});

test("intelmq_redis_bridge collector: the Redis connection breaks mid-stream: every message once, none left in the internal list", async () => {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: DB, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const queue = `bridge-cut-${randomBytes(4).toString("hex")}-queue`;
  const pad = "x".repeat(1000);
  const texts = Array.from({ length: 200 }, (_, i) => JSON.stringify({ "source.ip": `192.0.2.${i % 256}`, "extra.n": i, "extra.pad": pad, "classification.type": "scanner", __type: "Event" }));
  await redis.lpush(queue, ...texts);
  // the connection taking the messages is cut in the middle of one of them (its INFO at connect is about 5 kB)
  await using proxy = await startCutProxy(6379);
  proxy.cutAfter(40_000, 1);
  const broker = new MemoryBroker();
  const h = await startBot({
    def: bot, botId: "bridge-collector", broker, logger: log,
    params: { intelmq_queue: queue, source_pipeline_db: DB, source_pipeline_port: proxy.port, destination_queues: "out", error_retry_delay: 0.05 },
  });
  try {
    await waitFor(async () => (await broker.queues.depth("out")) >= 200 && (await redis.llen(`${queue}-internal`)) === 0 && (await redis.llen(queue)) === 0, 20_000, "every message through");
    assert.equal(proxy.cuts, 1);
    assert.equal(h.stats().failure, 0, "taken up again without failing the round");
    await h.stop();
    const got = await taken(broker, "out");
    assert.equal(got.length, 200, "none twice");
    assert.deepEqual(new Set(got.map((m) => m["extra.n"])), new Set(texts.map((_, i) => i)), "none lost");
  } finally {
    await h.stop();
    await broker.close();
    await redis.del(queue, `${queue}-internal`, failedList(queue));
    redis.disconnect();
  }
});
