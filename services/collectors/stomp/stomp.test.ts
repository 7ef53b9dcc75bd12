// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type Channel, type ChannelModel } from "amqplib";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot from "./index.js";
import { FrameParser, encodeFrame } from "./client.js";

// RabbitMQ of this machine with its STOMP plugin (port 61613; .ci/run enables it, and so does this test)
const STOMP_PORT = 61613;
const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

const listening = (port: number) => new Promise<boolean>((resolve) => {
  const s = tcpConnect(port, "127.0.0.1");
  s.once("connect", () => { s.destroy(); resolve(true); });
  s.once("error", () => resolve(false));
});

let amqp: ChannelModel;
let ch: Channel;
before(async () => {
  if (!(await listening(STOMP_PORT)) && existsSync("/usr/sbin/rabbitmq-plugins")) {
    execFileSync("/usr/sbin/rabbitmq-plugins", ["enable", "rabbitmq_stomp"], { stdio: "ignore" });
    for (let i = 0; i < 100 && !(await listening(STOMP_PORT)); i++) await sleep(100);
  }
  amqp = await connect("amqp://guest:guest@127.0.0.1:5672");
  ch = await amqp.createChannel();
});
after(async () => { await amqp?.close(); });

async function freshQueue(bodies: string[]): Promise<string> {
  const q = `intelmq-nats-test-${randomUUID()}`;
  await ch.assertQueue(q, { durable: false });
  for (const b of bodies) ch.sendToQueue(q, Buffer.from(b));
  return q;
}
const ready = async (q: string) => (await ch.checkQueue(q)).messageCount;

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function params(queue: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: "127.0.0.1", port: STOMP_PORT, exchange: `/amq/queue/${queue}`, use_ssl: false, auth_by_ssl_client_certificate: false,
    vhost: "/", username: "guest", password: "guest", heartbeat: 1000, destination_queues: ["q"], name: "n6",
    logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
  };
}

test("stomp: each message a report (raw right-stripped, feed.url), acknowledged once queued", async () => {
  const bodies = Array.from({ length: 50 }, (_, i) => `{"id": "${i}", "address": [{"ip": "192.0.2.${i}"}]}\n \n`);
  const q = await freshQueue(bodies);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "stomp-collector", broker, logger: log, params: params(q) });
  try {
    await until(async () => (await broker.queues.depth("q")) === 50, "50 reports");
    await h.stop();
    assert.equal(await ready(q), 0, "all acknowledged: nothing returned to the queue when the bot stopped");
    const reports = await takeQueued(broker, "q");
    assert.deepEqual(reports.map((r) => unb64(r.raw)).sort(), bodies.map((b) => b.trimEnd()).sort());
    assert.equal(reports[0]!["feed.url"], `stomp://127.0.0.1:${STOMP_PORT}//amq/queue/${q}`);
    assert.equal(reports[0]!["feed.name"], "n6");
  } finally {
    await h.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("stomp: the connection breaks mid-stream: the collector reconnects; no message lost, none queued twice", async () => {
  const bodies = Array.from({ length: 300 }, (_, i) => `{"id": "${i}", "pad": "${"x".repeat(40)}"}`);
  const q = await freshQueue(bodies);
  await using proxy = await startCutProxy(STOMP_PORT);
  proxy.cutAfter(8_000, 1); // the first connection breaks with messages handed out, unacknowledged
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "stomp-collector", broker, logger: log, params: params(q, { port: proxy.port, prefetch_count: 40 }) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 300 && (await ready(q)) === 0, "300 reports");
    await sleep(300); // a duplicate would arrive now
    await h.stop();
    assert.equal(proxy.cuts, 1);
    assert.ok(proxy.connections >= 2, "reconnected");
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 300);
    assert.deepEqual(new Set(reports.map((r) => unb64(r.raw))), new Set(bodies));
  } finally {
    await h.stop();
    await broker.close();
    await ch.deleteQueue(q);
  }
});

test("stomp: a refused login and missing certificate files stop the bot at start", async () => {
  const broker = new MemoryBroker();
  const bad = await startBot({ def: bot, botId: "stomp-collector", broker, logger: log, params: params("none", { password: "wrong" }) });
  assert.equal(await bad.done, 1);
  const noCert = await startBot({
    def: bot, botId: "stomp-collector", broker, logger: log,
    params: params("none", { use_ssl: true, auth_by_ssl_client_certificate: true, ssl_client_certificate: "/nonexistent/client.pem" }),
  });
  assert.equal(await noCert.done, 1);
  await broker.close();
});

test("stomp: frames: content-length bodies with NUL bytes, header escapes, heart-beats between frames", () => {
  const parser = new FrameParser();
  const body = Buffer.from([0x61, 0x00, 0x62]);
  const frame = encodeFrame("MESSAGE", { "message-id": "a:b", destination: "/x\ny" }, body);
  const bytes = Buffer.concat([Buffer.from("\n\r\n"), frame, Buffer.from("\n"), encodeFrame("RECEIPT", { "receipt-id": "7" })]);
  const first = parser.push(bytes.subarray(0, 10));
  const rest = parser.push(bytes.subarray(10));
  const frames = [...first, ...rest];
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.command, "MESSAGE");
  assert.deepEqual(frames[0]!.headers, { "message-id": "a:b", destination: "/x\ny", "content-length": "3" });
  assert.deepEqual(frames[0]!.body, body);
  assert.deepEqual([frames[1]!.command, frames[1]!.headers["receipt-id"]], ["RECEIPT", "7"]);
});
