// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { MemoryBroker, connectJetStream, type Broker } from "../../../shared/broker/index.js";
import { startNatsServer } from "../../../test/helpers/nats-server.js";
import { messageFromDict, type Event, runBot, type BotContext, type ExpertImpl } from "../../../shared/sdk/index.js";
import bot, { DEDUP_BUCKET, params } from "./index.js";

const INPUT1 = { __type: "Event", "classification.identifier": "zeus", "source.ip": "192.0.2.1", "time.observation": "2015-01-01T13:37:00+00:00" };
const INPUT2 = { ...INPUT1, "source.ip": "192.168.0.4" };
const SYSCONFIG = { redis_cache_ttl: "86400", redis_cache_db: 4, filter_type: "blacklist", filter_keys: "raw ,time.observation " };

test("deduplicator: IntelMQ-style parameters parse", () => {
  const prm = params.parse(SYSCONFIG);
  assert.deepEqual(prm.filter_keys, ["raw", "time.observation"]);
  assert.equal(prm.redis_cache_ttl, 86400);
  assert.equal(prm.filter_type, "blacklist");
  assert.equal(prm.bypass, false);
  assert.throws(() => params.parse({ filter_type: "greylist" }), (e: { name?: string; issues?: { path: unknown[]; code: string }[] }) =>
    e.name === "ZodError" && e.issues?.length === 1 && e.issues[0]!.path.join(".") === "filter_type" && e.issues[0]!.code === "invalid_value");
});

test("deduplicator: the second identical event is dropped, a different one passes", async () => {
  const out = await runBot(bot, { params: SYSCONFIG, input: [INPUT1, INPUT1, INPUT2] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [INPUT1, INPUT2]);
});

test("deduplicator: time.observation never counts", async () => {
  const later = { ...INPUT1, "time.observation": "2016-01-01T00:00:00+00:00" };
  const out = await runBot(bot, { params: { ...SYSCONFIG, filter_keys: "raw" }, input: [INPUT1, later] });
  assert.deepEqual(out.output._default, [INPUT1]);
});

test("deduplicator: whitelist hashes only the listed keys", async () => {
  const a = { __type: "Event", "source.ip": "127.0.0.8", "destination.ip": "127.0.0.7" };
  const b = { __type: "Event", "source.ip": "127.0.0.8", "destination.ip": "127.0.0.9" };
  const c = { __type: "Event", "destination.ip": "127.0.0.7" };
  const out = await runBot(bot, { params: { filter_type: "whitelist", filter_keys: "source.ip" }, input: [a, b, c] });
  assert.deepEqual(out.output._default, [a, c]);
});

test("deduplicator: bypass forwards duplicates", async () => {
  const out = await runBot(bot, { params: { ...SYSCONFIG, bypass: true }, input: [INPUT1, INPUT1] });
  assert.deepEqual(out.output._default, [INPUT1, INPUT1]);
});

async function directly(broker: Broker): Promise<ExpertImpl> {
  const ctx = {
    botId: "deduplicator-expert", log: pino({ level: "silent" }), testing: true,
    cache: (bucket: string, ttl: number) => broker.kv.open(bucket, ttl),
  } as unknown as BotContext;
  return bot.create(params.parse(SYSCONFIG), ctx);
}
const ev = (d: Record<string, unknown>) => messageFromDict(d) as Event;

/** The crash scenario on a broker: `reopen` gives the broker a restarted bot would use. */
async function crashScenario(first: Broker, reopen: () => Promise<Broker>): Promise<void> {
  const bot1 = await directly(first);
  // The first instance stores the hash, then "crashes" before its input is acknowledged.
  assert.ok(await bot1.process(ev(INPUT1), { origin: "deduplicator-queue:7:0", redelivered: false }));
  const restarted = await directly(await reopen());
  // The same input comes again (same origin): not a duplicate of itself.
  assert.ok(await restarted.process(ev(INPUT1), { origin: "deduplicator-queue:7:0", redelivered: true }));
  // The same event from another input is a duplicate.
  assert.equal(await restarted.process(ev(INPUT1), { origin: "deduplicator-queue:8:0", redelivered: false }) ?? null, null);
  assert.equal(await restarted.process(ev(INPUT1), { origin: "deduplicator-queue:7:1", redelivered: false }) ?? null, null);
  // The cache holds the origin of the first sighting.
  const cache = await first.kv.open(DEDUP_BUCKET, 86400);
  assert.equal(await cache.get(ev(INPUT1).hash({ filterKeys: ["raw", "time.observation"], filterType: "blacklist" })), "deduplicator-queue:7:0");
  // Concurrent sightings of a new event from different inputs: exactly one passes.
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    restarted.process(ev(INPUT2), { origin: `deduplicator-queue:${100 + i}:0`, redelivered: false })));
  assert.equal(results.filter((r) => r).length, 1);
}

/** The same decisions a batch at a time (processBatch): repeats inside a batch, a redelivered batch, a batch after it. */
async function batchScenario(first: Broker, reopen: () => Promise<Broker>): Promise<void> {
  const meta = (seq: number, i: number) => ({ origin: `deduplicator-queue:${seq}:${i}`, redelivered: false });
  const ips = (r: readonly unknown[]) => r.map((e) => (e ? String((e as Event).get("source.ip")) : null));
  const input = [INPUT1, INPUT1, INPUT2, INPUT1].map(ev);
  const bot1 = await directly(first);
  assert.deepEqual(ips(await bot1.processBatch!(input, input.map((_, i) => meta(7, i)))), ["192.0.2.1", null, "192.168.0.4", null]);
  // A restarted instance (nothing in its own memory) gets the same batch again: the same outputs.
  const restarted = await directly(await reopen());
  assert.deepEqual(ips(await restarted.processBatch!(input, input.map((_, i) => meta(7, i)))), ["192.0.2.1", null, "192.168.0.4", null]);
  // Another input with the same events: all duplicates, one new event passes once.
  const next = [INPUT2, { ...INPUT1, "source.ip": "198.51.100.1" }, INPUT1, { ...INPUT1, "source.ip": "198.51.100.1" }].map(ev);
  assert.deepEqual(ips(await restarted.processBatch!(next, next.map((_, i) => meta(8, i)))), [null, "198.51.100.1", null, null]);
  assert.deepEqual(ips(await bot1.processBatch!(next, next.map((_, i) => meta(9, i)))), [null, null, null, null], "the first instance asks the shared cache");
}

test("deduplicator: a redelivered input after a crash is forwarded again, a real duplicate is not (memory)", async () => {
  const broker = new MemoryBroker();
  try {
    await crashScenario(broker, async () => broker);
    const other = new MemoryBroker();
    await batchScenario(other, async () => other);
    await other.close();
  } finally {
    await broker.close();
  }
});

test("deduplicator: the same on JetStream KV, across connections", async () => {
  const server = await startNatsServer();
  const opened: Broker[] = [];
  const open = async () => { const b = await connectJetStream({ servers: server.url }); opened.push(b); return b; };
  try {
    await crashScenario(await open(), open);
    const fresh = await open();
    await (await fresh.kv.open(DEDUP_BUCKET, 86400)).delete(ev(INPUT1).hash({ filterKeys: ["raw", "time.observation"], filterType: "blacklist" }));
    await (await fresh.kv.open(DEDUP_BUCKET, 86400)).delete(ev(INPUT2).hash({ filterKeys: ["raw", "time.observation"], filterType: "blacklist" }));
    await batchScenario(fresh, open);
  } finally {
    for (const b of opened) await b.close();
    await server.stop();
  }
});

test("deduplicator: a hash is forgotten after redis_cache_ttl, by the shared cache and by the instance alike", async () => {
  const broker = new MemoryBroker();
  const ctx = { botId: "d", log: pino({ level: "silent" }), testing: true, cache: (b: string, t: number) => broker.kv.open(b, t) } as unknown as BotContext;
  const impl = await bot.create(params.parse({ ...SYSCONFIG, redis_cache_ttl: 1 }), ctx);
  const meta = (n: number) => ({ origin: `q:${n}:0`, redelivered: false });
  assert.ok(await impl.process(ev(INPUT1), meta(1)), "first sighting passes");
  assert.equal(await impl.process(ev(INPUT1), meta(2)), null, "a repeat within the TTL is dropped");
  assert.ok(await impl.process(ev(INPUT1), meta(1)), "a redelivery of the first input passes");
  await new Promise((r) => setTimeout(r, 1100));
  assert.ok(await impl.process(ev(INPUT1), meta(3)), "after the TTL it passes again");
  assert.equal(await impl.process(ev(INPUT1), meta(4)), null, "and is remembered anew");
  await broker.close();
});

test("deduplicator: without the local memory (local_cache_entries 0) the shared cache alone decides the same", async () => {
  const out = await runBot(bot, { params: { ...SYSCONFIG, local_cache_entries: 0 }, input: [INPUT1, INPUT1, INPUT2, INPUT1] });
  assert.deepEqual(out.output._default, [INPUT1, INPUT2]);
});

test("deduplicator: the instance's own writes (typed arrays): origins, TTL from the write, two generations", async () => {
  const { OwnWrites } = await import("./index.js");
  const h = (n: number) => n.toString(16).padStart(8, "0").repeat(8);
  const mine = new OwnWrites(60_000, 4); // two generations of two entries
  assert.equal(mine.get(h(1), "q:1:0"), undefined);
  mine.set(h(1), "q:1:0");
  assert.equal(mine.get(h(1), "q:1:0"), "mine");
  assert.equal(mine.get(h(1), "q:2:0"), "other");
  mine.set(h(1), "q:2:0");
  assert.equal(mine.get(h(1), "q:1:0"), "mine", "the first write is kept");
  mine.set(h(2), "q:2:0");
  mine.set(h(3), "q:3:0"); // the first generation is full: a second starts
  assert.equal(mine.get(h(1), "q:1:0"), "mine", "the older generation still answers");
  mine.set(h(4), "q:4:0");
  mine.set(h(5), "q:5:0"); // the second is full: the first is dropped
  assert.equal(mine.get(h(1), "q:1:0"), undefined);
  assert.equal(mine.get(h(3), "q:3:0"), "mine");
  assert.equal(mine.get(h(5), "q:9:0"), "other");
  mine.set(h(6), "q:6:0");
  mine.set(h(7), "q:7:0"); // the third generation reuses the dropped one's arrays, emptied
  assert.equal(mine.get(h(3), "q:3:0"), undefined);
  assert.equal(mine.get(h(4), "q:4:0"), undefined);
  assert.deepEqual([5, 6, 7].map((n) => mine.get(h(n), `q:${n}:0`)), ["mine", "mine", "mine"]);
  assert.equal(mine.get("not hex at all, not hex at all, not hex", "q:1:0"), undefined);
  // hashes that collide in the table's slots are told apart by all 12 bytes kept
  const key = (i: number) => "00000001" + i.toString(16).padStart(16, "0") + "0".repeat(40);
  const crowded = new OwnWrites(60_000, 1000);
  for (let i = 0; i < 500; i++) crowded.set(key(i), `q:${i}:0`);
  for (let i = 0; i < 500; i++) assert.equal(crowded.get(key(i), `q:${i}:0`), "mine");
  assert.equal(crowded.get(key(999), "q:1:0"), undefined);
  // the TTL counts from the write (its whole second); a key written again after it is found again
  const short = new OwnWrites(1000, 10);
  short.set(h(7), "q:7:0");
  await new Promise((r) => setTimeout(r, 1050));
  assert.equal(short.get(h(7), "q:7:0"), undefined);
  short.set(h(7), "q:8:0");
  assert.equal(short.get(h(7), "q:7:0"), "other");
  assert.equal(new OwnWrites(60_000, 0).get(h(1), "q:1:0"), undefined);
});
