// SPDX-License-Identifier: AGPL-3.0-only
// Against RabbitMQ's STOMP plugin on 127.0.0.1:61613 (.ci/run enables it); what arrives is read over AMQP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { startTcpProxy } from "../../../test/helpers/tcp-proxy.js";
import { sleep } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "feed.name": "Test", raw: Buffer.from("x").toString("base64") });
const plain = (exchange: string, extra: Record<string, unknown> = {}) => ({
  port: 61613, use_ssl: false, auth_by_ssl_client_certificate: false, username: "guest", password: "guest", exchange: `/exchange/${exchange}/events`, ...extra,
});

async function withSink(fn: (exchange: string, bodies: () => string[], received: amqp.ConsumeMessage[]) => Promise<void>): Promise<void> {
  const conn = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
  const ch = await conn.createChannel();
  const exchange = `intelmq-nats-test-${randomUUID()}`;
  await ch.assertExchange(exchange, "topic", { durable: false });
  const q = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(q.queue, exchange, "#");
  const received: amqp.ConsumeMessage[] = [];
  await ch.consume(q.queue, (m) => { if (m) received.push(m); }, { noAck: true });
  try {
    await fn(exchange, () => received.map((m) => m.content.toString("utf8")), received);
  } finally {
    await ch.deleteExchange(exchange).catch(() => undefined);
    await conn.close();
  }
}

test("events sent as JSON frames (raw dropped), each confirmed by a receipt", async () => {
  await withSink(async (exchange, bodies, received) => {
    const out = await runBot(bot, { params: { ...HARNESS, ...plain(exchange) }, input: [ev("192.0.2.1"), ev("192.0.2.2")] });
    assert.equal(out.dumped, 0);
    await sleep(200);
    assert.deepEqual(bodies().map((b) => JSON.parse(b)), [{ "feed.name": "Test", "source.ip": "192.0.2.1" }, { "feed.name": "Test", "source.ip": "192.0.2.2" }]);
    assert.equal(received[0]!.properties.contentType, "application/json");
    await runBot(bot, { params: { ...HARNESS, ...plain(exchange), message_hierarchical_output: true, message_with_type: true }, input: [ev("192.0.2.3")] });
    await sleep(200);
    assert.deepEqual(JSON.parse(bodies()[2]!), { __type: "Event", feed: { name: "Test" }, source: { ip: "192.0.2.3" } });
  });
});

test("wrong credentials: the server's ERROR fails the flush and the input is dumped; TLS files missing: configuration error", async () => {
  await withSink(async (exchange) => {
    const out = await runBot(bot, { params: { ...HARNESS, ...plain(exchange), password: "wrong" }, input: [ev("192.0.2.1")] });
    assert.equal(out.dumped, 1);
  });
  await assert.rejects(runBot(bot, { params: { ...HARNESS, ssl_ca_certificate: "/nonexistent/ca.pem" }, input: [] }), /ssl_ca_certificate/);
});

test("10,000 events through nats-server into RabbitMQ's STOMP: each once", { timeout: 300_000 }, async () => {
  await withSink(async (exchange, bodies) => {
    const r = await runOutput({ module: "intelmq.bots.outputs.stomp.output", params: plain(exchange), read: bodies });
    assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  });
});

test("the STOMP server cut off twice mid-run (a proxy dropped): nothing lost, the output resumes", { timeout: 300_000 }, async (t) => {
  await withSink(async (exchange, bodies) => {
    const proxy = await startTcpProxy(61613);
    try {
      const r = await runOutput({
        module: "intelmq.bots.outputs.stomp.output", params: plain(exchange, { port: proxy.port }), read: bodies,
        disturb: async (seen) => {
          for (const n of [2_000, 6_000]) {
            await after(seen, n, () => proxy.cut());
            await sleep(3000);
            await proxy.restore();
          }
        },
      });
      // At least once: frames whose receipts were lost with the connection are sent again.
      assert.equal(r.missing, 0);
      t.diagnostic(`${r.total} messages for 10,000 events (${r.duplicated} sent twice)`);
    } finally {
      await proxy.close();
    }
  });
});
