// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { MemoryBroker, connectJetStream, type Broker } from "../../../shared/broker/index.js";
import { startNatsServer } from "../../../test/helpers/nats-server.js";
import { messageFromDict, type Event, runBot, type BotContext, type ExpertImpl } from "../../../shared/sdk/index.js";
import type { ClaimLimits } from "../../../shared/broker/index.js";
import bot, { DEDUP_CLAIMS, params } from "./index.js";

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

/** Instances made by directly(): shut down at the end of each test. */
const made: ExpertImpl[] = [];
async function directly(broker: Broker, extra: Record<string, unknown> = {}): Promise<ExpertImpl> {
  const ctx = {
    botId: "deduplicator-expert", log: pino({ level: "silent" }), testing: true,
    claims: (name: string, ttl: number, limits?: ClaimLimits) => broker.kv.claims(name, ttl, limits),
  } as unknown as BotContext;
  const impl = await bot.create(params.parse({ ...SYSCONFIG, ...extra }), ctx);
  made.push(impl);
  return impl;
}
async function shutAll(): Promise<void> {
  for (const impl of made.splice(0)) await impl.shutdown?.();
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
  const cache = await first.kv.claims(DEDUP_CLAIMS, 86400);
  const h1 = ev(INPUT1).hash({ filterKeys: ["raw", "time.observation"], filterType: "blacklist" });
  assert.deepEqual(await cache.claim([h1, h1], ["deduplicator-queue:7:0", "deduplicator-queue:9:0"]), [true, false]);
  await cache.close();
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
    await shutAll();
    await other.close();
  } finally {
    await shutAll();
    await broker.close();
  }
});

/** `body` with a nats-server of its own; `open` connects to it. Instances and connections end after. */
async function onJetStream(body: (open: () => Promise<Broker>) => Promise<void>): Promise<void> {
  const server = await startNatsServer();
  const opened: Broker[] = [];
  const open = async () => { const b = await connectJetStream({ servers: server.url }); opened.push(b); return b; };
  try {
    await body(open);
  } finally {
    await shutAll();
    for (const b of opened) await b.close();
    await server.stop();
  }
}

test("deduplicator: the same on JetStream, across connections", () => onJetStream(async (open) => {
  await crashScenario(await open(), open);
  await shutAll();
  const fresh = await open();
  assert.equal(await fresh.kv.deleteClaims(DEDUP_CLAIMS), true);
  await batchScenario(fresh, open);
}));

test("deduplicator: instances on separate connections agree while they work at once: each event passes once", () => onJetStream(async (open) => {
  const bots = await Promise.all([open(), open(), open()].map(async (b) => directly(await b)));
  // 300 events, each sent to every instance in its own batch of 20 (another input each time)
  const events = Array.from({ length: 300 }, (_, i) => ({ ...INPUT1, "source.ip": `10.0.${i >> 8}.${i & 255}` }));
  const passed = new Map<string, number>();
  await Promise.all(bots.map(async (impl, b) => {
    for (let at = 0; at < events.length; at += 20) {
      const batch = events.slice(at, at + 20).map(ev);
      const out = await impl.processBatch!(batch, batch.map((_, i) => ({ origin: `q:${b * 1000 + at}:${i}`, redelivered: false })));
      for (const e of out) {
        if (!e) continue;
        const ip = String((e as Event).get("source.ip"));
        passed.set(ip, (passed.get(ip) ?? 0) + 1);
      }
    }
  }));
  assert.equal(passed.size, 300, "every event passed somewhere");
  assert.ok([...passed.values()].every((n) => n === 1), "and only once");
}));

test("deduplicator: a hash is forgotten after redis_cache_ttl", async () => {
  const broker = new MemoryBroker();
  const impl = await directly(broker, { redis_cache_ttl: 1 });
  const meta = (n: number) => ({ origin: `q:${n}:0`, redelivered: false });
  assert.ok(await impl.process(ev(INPUT1), meta(1)), "first sighting passes");
  assert.equal(await impl.process(ev(INPUT1), meta(2)), null, "a repeat within the TTL is dropped");
  assert.ok(await impl.process(ev(INPUT1), meta(1)), "a redelivery of the first input passes");
  await new Promise((r) => setTimeout(r, 1100));
  assert.ok(await impl.process(ev(INPUT1), meta(3)), "after the TTL it passes again");
  assert.equal(await impl.process(ev(INPUT1), meta(4)), null, "and is remembered anew");
  await shutAll();
  await broker.close();
});

test("deduplicator: local_cache_entries below 1024 is refused", () => {
  assert.throws(() => params.parse({ local_cache_entries: 0 }), (e: { name?: string }) => e.name === "ZodError");
  assert.equal(params.parse({ local_cache_entries: "4096" }).local_cache_entries, 4096);
});
