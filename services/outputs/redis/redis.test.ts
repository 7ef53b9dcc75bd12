// SPDX-License-Identifier: AGPL-3.0-only
// Against the machine's Redis on 127.0.0.1:6379 (db 2, lists of random names, removed after).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { Event, runBot, type BotContext } from "../../../shared/sdk/index.js";
import bot, { params } from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { startTcpProxy } from "../../../test/helpers/tcp-proxy.js";
import { sleep } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "feed.name": "Test", raw: Buffer.from("x").toString("base64") });

async function withList(fn: (redis: Redis, list: string) => Promise<void>): Promise<void> {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: 2, lazyConnect: true });
  await redis.connect();
  const list = `intelmq-nats-test-${randomUUID()}`;
  try {
    await fn(redis, list);
  } finally {
    const keys = await redis.keys(`${list}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}

test("events LPUSHed as JSON with __type (IntelMQ's with_type default), raw kept, in order for RPOP", async () => {
  await withList(async (redis, list) => {
    const out = await runBot(bot, { params: { ...HARNESS, redis_queue: list }, input: [ev("192.0.2.1"), ev("192.0.2.2")] });
    assert.equal(out.dumped, 0);
    const first = JSON.parse((await redis.rpop(list))!);
    assert.deepEqual(first, { __type: "Event", "feed.name": "Test", raw: "eA==", "source.ip": "192.0.2.1" });
    assert.equal(JSON.parse((await redis.rpop(list))!)["source.ip"], "192.0.2.2");
    assert.equal(await redis.llen(list), 0);
  });
});

test("hierarchical_output, with_type false", async () => {
  await withList(async (redis, list) => {
    await runBot(bot, { params: { ...HARNESS, redis_queue: list, hierarchical_output: true, with_type: false }, input: [ev("192.0.2.1")] });
    assert.deepEqual(JSON.parse((await redis.rpop(list))!), { feed: { name: "Test" }, raw: "eA==", source: { ip: "192.0.2.1" } });
  });
});

test("an input flushed twice (a redelivery after a lost acknowledgement) is pushed once", async () => {
  await withList(async (redis, list) => {
    const ctx = { log: pino({ level: "silent" }) } as unknown as BotContext;
    const impl = await bot.create(params.parse({ redis_queue: list }), ctx);
    const input = { key: `q:1:${randomUUID()}`, queue: "q", seq: 1 };
    for (let round = 0; round < 2; round++) {
      for (const ip of ["192.0.2.1", "192.0.2.2"]) await impl.export(new Event({ "source.ip": ip }));
      await impl.flush!(input);
    }
    assert.equal(await redis.llen(list), 2);
    await impl.shutdown?.();
  });
});

test("no redis_queue: a configuration error; Redis unreachable: the input is retried, then dumped", async () => {
  await assert.rejects(runBot(bot, { params: HARNESS, input: [ev("192.0.2.1")] }), /redis_queue/);
  const proxy = await startTcpProxy(6379);
  await proxy.cut();
  const out = await runBot(bot, { params: { ...HARNESS, redis_queue: "never", redis_server_port: proxy.port }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 1);
  await proxy.close();
});

test("10,000 events through nats-server into Redis: each once", { timeout: 300_000 }, async () => {
  await withList(async (redis, list) => {
    const r = await runOutput({ module: "intelmq.bots.outputs.redis.output", params: { redis_queue: list }, read: () => redis.lrange(list, 0, -1) });
    assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  });
});

test("Redis cut off twice mid-run (a proxy dropped): nothing lost, nothing twice, the output resumes", { timeout: 300_000 }, async () => {
  await withList(async (redis, list) => {
    const proxy = await startTcpProxy(6379);
    try {
      const r = await runOutput({
        module: "intelmq.bots.outputs.redis.output", params: { redis_queue: list, redis_server_port: proxy.port },
        read: () => redis.lrange(list, 0, -1),
        disturb: async (seen) => {
          for (const n of [2_000, 6_000]) {
            await after(seen, n, () => proxy.cut());
            await sleep(3000);
            await proxy.restore();
          }
        },
      });
      assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
    } finally {
      await proxy.close();
    }
  });
});

test("the output SIGKILLed 3 times while it pushes: each event once (the markers of pushed inputs)", { timeout: 300_000 }, async () => {
  await withList(async (redis, list) => {
    const r = await runOutput({
      module: "intelmq.bots.outputs.redis.output", params: { redis_queue: list }, read: () => redis.lrange(list, 0, -1), paceMs: 20,
      disturb: async (seen, output) => {
        for (const n of [1_500, 4_000, 7_000]) {
          await after(seen, n, () => output.kill());
          output.start();
        }
      },
    });
    assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  });
});
