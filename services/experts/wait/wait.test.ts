// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot, { params } from "./index.js";

const EVENT = { __type: "Event", "time.observation": "2015-01-01T00:00:00+00:00" };

test("wait: parameters as IntelMQ writes them", () => {
  const prm = params.parse({ sleep_time: "0.5", queue_size: "3" });
  assert.equal(prm.sleep_time, 0.5);
  assert.equal(prm.queue_size, 3);
  assert.equal(prm.queue_name, null);
});

test("wait: without parameters and with sleep_time the event goes on unchanged", async () => {
  assert.deepEqual((await runBot(bot, { input: [EVENT] })).output._default, [EVENT]);
  assert.deepEqual((await runBot(bot, { params: { sleep_time: 0.05 }, input: [EVENT] })).output._default, [EVENT]);
});

test("wait: with queue_name the event waits until the Redis list is short enough (Redis on 127.0.0.1:6379)", async () => {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: 2 });
  const key = `intelmq-nats-test-wait-${randomUUID()}`;
  try {
    await redis.rpush(key, "a", "b", "c");
    const b = await createLibraryBot(bot, { params: { queue_name: key, queue_size: 1, queue_host: "127.0.0.1", queue_polling_interval: 0.01 } });
    try {
      let done = false;
      const run = b.process([EVENT]).then((r) => { done = true; return r; });
      // the bot keeps looking at the list while it is too long
      const seen = await redis.llen(key);
      await sleep(100);
      assert.equal(done, false, `still waiting with ${seen} items`);
      await redis.lpop(key);
      await sleep(50);
      assert.equal(done, false, "2 items are still more than queue_size 1");
      await redis.lpop(key);
      const out = await run;
      assert.deepEqual(out.output._default, [EVENT]);
    } finally { await b.shutdown(); }
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
});

test("wait: an unreachable Redis fails the message (retried, then dumped), it is not forwarded", async () => {
  // port 1 on loopback: nothing listens there
  const out = await runBot(bot, { params: { queue_name: "x", queue_host: "127.0.0.1", queue_port: 1, error_max_retries: 0 }, input: [EVENT] });
  assert.equal(out.dumped, 1);
  assert.deepEqual(out.output._default, []);
});
