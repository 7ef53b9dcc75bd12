// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bridge output against the real Redis: events LPUSHed to every queue in IntelMQ's wire format
 * (its serialize()), and an input delivered again is not pushed twice.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const DB = 11;

test("intelmq_redis_bridge output: IntelMQ's serialized events into each queue, once per input", async () => {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: DB, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const tag = randomBytes(4).toString("hex");
  const queues = [`bridge-out-${tag}-a-queue`, `bridge-out-${tag}-b-queue`];
  const botId = `bridge-output-${tag}`;
  const input = { __type: "Event", "source.ip": "192.0.2.1", "event_description.text": "Café", "classification.type": "scanner" };
  try {
    for (let i = 0; i < 2; i++) {
      const r = await runBot(bot, { botId, params: { intelmq_queues: queues, destination_pipeline_db: DB }, input: [input] });
      assert.equal(r.dumped, 0);
    }
    for (const q of queues) {
      assert.deepEqual(await redis.lrange(q, 0, -1), [
        '{"source.ip": "192.0.2.1", "event_description.text": "Caf\\u00e9", "classification.type": "scanner", "__type": "Event"}',
      ], "IntelMQ's serialize(), pushed once although delivered twice");
    }
  } finally {
    await redis.del(...queues);
    const markers = await redis.keys(`intelmq-nats:bridge-delivered:${botId}:*`);
    if (markers.length) await redis.del(...markers);
    redis.disconnect();
  }
});
