// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type Channel, type ChannelModel } from "amqplib";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, startBot, type BotHandle } from "../../../shared/runtime/index.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot from "./index.js";

// RabbitMQ of this machine (CI starts it): 127.0.0.1:5672, guest/guest
const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

let amqp: ChannelModel;
let ch: Channel;
before(async () => {
  amqp = await connect("amqp://guest:guest@127.0.0.1:5672");
  ch = await amqp.createChannel();
});
after(async () => { await amqp?.close(); });

async function freshQueue(bodies: (string | { body: string; messageId: string })[]): Promise<string> {
  const q = `intelmq-nats-test-${randomUUID()}`;
  await ch.assertQueue(q, { durable: false, autoDelete: false });
  for (const b of bodies) {
    if (typeof b === "string") ch.sendToQueue(q, Buffer.from(b));
    else ch.sendToQueue(q, Buffer.from(b.body), { messageId: b.messageId });
  }
  return q;
}

function params(queue: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    queue_name: queue, username: "guest", password: "guest", destination_queues: ["q"], name: "AMQP feed",
    logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
  };
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Messages of the AMQP queue that are ready (not handed out). */
const ready = async (q: string) => (await ch.checkQueue(q)).messageCount;

test("amqp: every message of the queue is a report; acknowledged (gone from the queue) once queued", async () => {
  const bodies = Array.from({ length: 50 }, (_, i) => `192.0.2.${i},bad\n`);
  const q = await freshQueue([...bodies, bodies[0]!]);
  const broker = new MemoryBroker();
  let h: BotHandle | null = null;
  try {
    h = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params(q) });
    await until(async () => (await broker.queues.depth("q")) === 51, "51 reports");
    await h.stop();
    h = null;
    assert.equal(await ready(q), 0, "all acknowledged: nothing returned to the queue when the bot stopped");
    const reports = await takeQueued(broker, "q");
    assert.deepEqual(reports.map((r) => unb64(r.raw)).sort(), [...bodies, bodies[0]!].sort(), "the same body twice is two reports");
    assert.equal(reports[0]!["feed.name"], "AMQP feed");
  } finally {
    await h?.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("amqp: expect_intelmq_message sends IntelMQ messages as they are; a body that is none is rejected", async () => {
  const msg = { "__type": "Report", "raw": Buffer.from("a,b\n").toString("base64"), "feed.name": "Upstream", "feed.url": "http://example.com/x" };
  const q = await freshQueue([JSON.stringify(msg), "not json"]);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params(q, { expect_intelmq_message: true }) });
  try {
    await until(async () => (await broker.queues.depth("q")) === 1 && (await ready(q)) === 0, "the report");
    await h.stop();
    assert.equal(await ready(q), 0, "the bad message was rejected, not requeued");
    const [r] = await takeQueued(broker, "q");
    assert.equal(r!["feed.name"], "Upstream");
    assert.equal(r!["feed.url"], "http://example.com/x");
    assert.equal(unb64(r!.raw), "a,b\n");
  } finally {
    await h.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("amqp: the connection breaks mid-consume: the collector reconnects; no message lost, none queued twice", async () => {
  const bodies = Array.from({ length: 300 }, (_, i) => ({ body: `198.51.100.${i % 256},${i}\n`, messageId: `m-${i}` }));
  const q = await freshQueue(bodies);
  await using proxy = await startCutProxy(5672);
  proxy.cutAfter(9_000, 1); // the first connection breaks with messages handed out, unacknowledged
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params(q, { connection_port: proxy.port, prefetch_count: 50 }) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 300 && (await ready(q)) === 0, "300 reports");
    await sleep(300); // a duplicate would arrive now
    await h.stop();
    assert.equal(proxy.cuts, 1);
    assert.ok(proxy.connections >= 2, "reconnected");
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 300);
    assert.deepEqual(new Set(reports.map((r) => unb64(r.raw))), new Set(bodies.map((b) => b.body)));
    assert.equal(await ready(q), 0);
  } finally {
    await h.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("amqp: the bot stops with reports in flight: unacknowledged messages return to the queue; the restarted bot does not queue them twice", async () => {
  const bodies = Array.from({ length: 200 }, (_, i) => `203.0.113.${i % 256},${i}\n`);
  const q = await freshQueue(bodies);
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  let n = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  broker.queues.publish = async (queue, data, opts) => {
    if (++n > 120) await gate; // the broker is slow from the 121st report on
    return publish(queue, data, opts);
  };
  const h = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params(q, { prefetch_count: 30 }) });
  try {
    await until(async () => n > 120, "120 reports stored");
    const stopped = h.stop();
    release();
    await stopped;
    const first = await broker.queues.depth("q");
    assert.ok(first >= 120 && first < 200, `part was queued before the stop (${first})`);
    assert.ok((await ready(q)) > 0, "the rest went back to the AMQP queue");
    broker.queues.publish = publish;
    const h2 = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params(q) });
    await until(async () => (await ready(q)) === 0 && (await broker.queues.depth("q")) >= 200, "the rest");
    await sleep(200);
    await h2.stop();
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 200);
    assert.deepEqual(new Set(reports.map((r) => unb64(r.raw))), new Set(bodies));
  } finally {
    await h.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("amqp: no queue_name is refused", async () => {
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "amqp-collector", broker, logger: log, params: params("x", { queue_name: null }) });
  assert.equal(await h.done, 1);
  await broker.close();
});
