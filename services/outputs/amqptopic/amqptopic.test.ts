// SPDX-License-Identifier: AGPL-3.0-only
// Against the machine's RabbitMQ on 127.0.0.1:5672 (guest/guest); exchanges and queues of random names, deleted after.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { startTcpProxy } from "../../../test/helpers/tcp-proxy.js";
import { sleep } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "feed.name": "Test", raw: Buffer.from("x").toString("base64") });

interface Sink { exchange: string; received: amqp.ConsumeMessage[]; bodies(): string[] }

async function withSink(fn: (s: Sink) => Promise<void>, bind = "#"): Promise<void> {
  const conn = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
  const ch = await conn.createChannel();
  const exchange = `intelmq-nats-test-${randomUUID()}`;
  await ch.assertExchange(exchange, "topic", { durable: false, autoDelete: false });
  const q = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(q.queue, exchange, bind);
  const received: amqp.ConsumeMessage[] = [];
  await ch.consume(q.queue, (m) => { if (m) received.push(m); }, { noAck: true });
  try {
    await fn({ exchange, received, bodies: () => received.map((m) => m.content.toString("utf8")) });
  } finally {
    await ch.deleteExchange(exchange).catch(() => undefined);
    await conn.close();
  }
}

const params = (exchange: string, extra: Record<string, unknown> = {}) => ({
  ...HARNESS, exchange_name: exchange, exchange_durable: false, routing_key: "events", username: "guest", password: "guest", ...extra,
});

test("events published as JSON (raw dropped) with content type, persistence and a message id per input", async () => {
  await withSink(async (s) => {
    const out = await runBot(bot, { params: params(s.exchange), input: [ev("192.0.2.1"), ev("192.0.2.2")] });
    assert.equal(out.dumped, 0);
    await sleep(200);
    assert.deepEqual(s.bodies().map((b) => JSON.parse(b)), [{ "feed.name": "Test", "source.ip": "192.0.2.1" }, { "feed.name": "Test", "source.ip": "192.0.2.2" }]);
    const m = s.received[0]!;
    assert.equal(m.properties.contentType, "application/json");
    assert.equal(m.properties.deliveryMode, 2);
    assert.match(String(m.properties.messageId), /:0$/);
    assert.equal(m.fields.routingKey, "events");
  });
});

test("format_routing_key, message_hierarchical_output, message_with_type, single_key", async () => {
  await withSink(async (s) => {
    await runBot(bot, { params: params(s.exchange, { format_routing_key: true, routing_key: "ev.{ev[feed.name]}", message_hierarchical_output: true, message_with_type: true }), input: [ev("192.0.2.1")] });
    await runBot(bot, { params: params(s.exchange, { single_key: "source.ip" }), input: [ev("192.0.2.9")] });
    await sleep(200);
    assert.equal(s.received[0]!.fields.routingKey, "ev.Test");
    assert.deepEqual(JSON.parse(s.bodies()[0]!), { __type: "Event", feed: { name: "Test" }, source: { ip: "192.0.2.1" } });
    assert.equal(s.bodies()[1], "192.0.2.9");
  });
});

test("an unroutable message (no queue bound for its key) stops the bot, as IntelMQ's does", async () => {
  await withSink(async (s) => {
    const b = await createLibraryBot(bot, { params: params(s.exchange, { routing_key: "nowhere" }) });
    try {
      const out = await b.process([ev("192.0.2.1")]);
      await sleep(300);
      assert.equal(out.exitCode ?? (await b.process([])).exitCode, 1);
      assert.equal(out.dumped, 0);
    } finally {
      await b.shutdown();
    }
  }, "only.this");
});

test("the server unreachable: the flush fails, the input is dumped after its retries", async () => {
  const proxy = await startTcpProxy(5672);
  await proxy.cut();
  const out = await runBot(bot, { params: { ...params("x"), connection_port: proxy.port, connection_attempts: 1 }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 1);
  await proxy.close();
});

test("10,000 events through nats-server into RabbitMQ: each once", { timeout: 300_000 }, async () => {
  await withSink(async (s) => {
    const r = await runOutput({ module: "intelmq.bots.outputs.amqptopic.output", params: params(s.exchange), read: () => s.bodies() });
    assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  });
});

test("RabbitMQ cut off twice mid-run (a proxy dropped): nothing lost, the output resumes", { timeout: 300_000 }, async (t) => {
  await withSink(async (s) => {
    const proxy = await startTcpProxy(5672);
    try {
      const r = await runOutput({
        module: "intelmq.bots.outputs.amqptopic.output", params: { ...params(s.exchange), connection_port: proxy.port }, read: () => s.bodies(),
        disturb: async (seen) => {
          for (const n of [2_000, 6_000]) {
            await after(seen, n, () => proxy.cut());
            await sleep(3000);
            await proxy.restore();
          }
        },
      });
      // At least once: an envelope whose confirms were lost with the connection is published again.
      assert.equal(r.missing, 0);
      t.diagnostic(`${r.total} messages for 10,000 events (${r.duplicated} published twice)`);
    } finally {
      await proxy.close();
    }
  });
});
