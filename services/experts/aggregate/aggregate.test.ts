// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { MemoryBroker, connectJetStream, type Broker } from "../../../shared/broker/index.js";
import { startNatsServer } from "../../../test/helpers/nats-server.js";
import { createLibraryBot, messageFromDict, type BotContext, type Event, type ExpertImpl } from "../../../shared/sdk/index.js";
import bot, { AGGREGATE_BUCKET, params } from "./index.js";

const ev = (minute: number, extra: Record<string, unknown> = {}) => ({
  "__type": "Event", "source.ip": "192.88.99.28", "destination.ip": "192.0.43.8", "classification.type": "ddos", "classification.identifier": "ddos",
  "time.observation": `2015-01-01T00:${String(minute).padStart(2, "0")}:01+00:00`, ...extra,
});

test("aggregate: parameters as IntelMQ writes them; a bad timespan stops the bot", async () => {
  const prm = params.parse({ fields: "classification.type, source.ip", threshold: "3" });
  assert.deepEqual(prm.fields, ["classification.type", "source.ip"]);
  assert.equal(prm.threshold, 3);
  await assert.rejects(createLibraryBot(bot, { params: { timespan: "soon" } }), /relative time/);
});

test("aggregate: events are held; after the timespan a group over the threshold is sent once, one under it is forgotten", async () => {
  const b = await createLibraryBot(bot, { params: { timespan: "1 second", threshold: 3, cleanup_interval: 0 } });
  try {
    const held = await b.process([ev(0), ev(1), ev(2, { "extra.count": 2 }), ev(3, { "classification.identifier": "other" })]);
    assert.deepEqual(held.output._default, []);
    await sleep(1100);
    const sent = await b.process([ev(4, { "classification.type": "scanner" })]);
    assert.equal(sent.output._default!.length, 1);
    const { "time.source": start, ...rest } = sent.output._default![0]!;
    assert.match(String(start), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
    assert.deepEqual(rest, { ...ev(0), "extra.count": 4, "extra.time_end": "2015-01-01T00:02:01+00:00" });
    await sleep(1100);
    // the scanner group (1 event) and the "other" group are under the threshold; the sent one is not sent again
    const later = await b.process([ev(5)]);
    assert.deepEqual(later.output._default, []);
  } finally { await b.shutdown(); }
});

async function redelivery(broker: Broker): Promise<void> {
  const ctx = {
    botId: "aggregate-expert", log: pino({ level: "silent" }), testing: true,
    cache: (bucket: string, ttl: number) => broker.kv.open(bucket, ttl),
    newEvent: () => messageFromDict({ __type: "Event" }) as Event,
  } as unknown as BotContext;
  const make = async (): Promise<ExpertImpl> => bot.create(params.parse({ timespan: "1 second", threshold: 2, cleanup_interval: 0 }), ctx);
  const first = await make();
  const e = (d: Record<string, unknown>) => messageFromDict(d) as Event;
  await first.process(e(ev(0)), { origin: "q:1:a:0", redelivered: false });
  await first.process(e(ev(1)), { origin: "q:2:a:0", redelivered: false });
  await sleep(1100);
  const out = await first.process(e(ev(9, { "classification.type": "scanner" })), { origin: "q:3:a:0", redelivered: false }) as Event[];
  assert.equal(out.length, 1);
  // crash before q:3 was acknowledged: a new instance gets it again
  const restarted = await make();
  const again = await restarted.process(e(ev(9, { "classification.type": "scanner" })), { origin: "q:3:a:0", redelivered: true }) as Event[];
  assert.equal(again.length, 1);
  assert.equal(again[0]!.get("extra.count"), 2);
  // any other input does not send it again
  assert.deepEqual(await restarted.process(e(ev(8, { "classification.type": "spam" })), { origin: "q:4:a:0", redelivered: true }), []);
  const kv = await broker.kv.open(AGGREGATE_BUCKET, 0);
  assert.equal((await kv.entries("aggregate.")).size, 3, "the sent group is kept for a while, the new ones are open");
}

test("aggregate: a group sent while processing an input is sent again when that input is redelivered after a crash (memory)", async () => {
  const broker = new MemoryBroker();
  try { await redelivery(broker); } finally { await broker.close(); }
});

test("aggregate: the same with the groups in JetStream KV", async () => {
  const server = await startNatsServer();
  const broker = await connectJetStream({ servers: server.url });
  try { await redelivery(broker); } finally {
    await broker.close();
    await server.stop();
  }
});
