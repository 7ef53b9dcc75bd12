// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocketServer, type WebSocket } from "ws";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

/** A CertStream-like message: a certificate update for example-<n>.com. */
const update = (n: number) => ({
  message_type: "certificate_update",
  data: {
    update_type: "X509LogEntry", cert_index: 1000 + n, seen: 1764750000.25 + n,
    leaf_cert: { all_domains: [`example-${n}.com`, `www.example-${n}.com`], subject: { CN: `example-${n}.com` }, not_before: 1764700000 },
    source: { name: "Test log 'Ünïcode'", url: "ct.example.net/log/" },
  },
});

/** A loopback websocket server; each connection gets the next script. */
async function server(scripts: ((ws: WebSocket) => Promise<void>)[]) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  let n = 0;
  wss.on("connection", (ws) => { void scripts[Math.min(n++, scripts.length - 1)]!(ws); });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    get connections() { return n; },
    close: () => { for (const c of wss.clients) c.terminate(); return new Promise<void>((r) => wss.close(() => r())); },
  };
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const params = (url: string) => ({ url, destination_queues: ["q"], name: "CertStream", error_retry_delay: 0.05, logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });

test("calidog: certificate updates are reports (raw as IntelMQ's json.dumps), heartbeats are not", async () => {
  const srv = await server([async (ws) => {
    ws.send(JSON.stringify({ message_type: "heartbeat", timestamp: 1 }));
    for (let i = 0; i < 20; i++) ws.send(JSON.stringify(update(i)));
    ws.send(JSON.stringify({ message_type: "heartbeat", timestamp: 2 }));
  }]);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "certstream", broker, logger: log, params: params(srv.url) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 20, "20 reports");
    await sleep(100);
    await h.stop();
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 20);
    assert.deepEqual(reports.map((r) => JSON.parse(unb64(r.raw)) as unknown), Array.from({ length: 20 }, (_, i) => update(i)));
    // Python's json.dumps: ", " and ": " separators, non-ASCII escaped
    assert.ok(unb64(reports[0]!.raw).startsWith('{"message_type": "certificate_update", "data": {"update_type": "X509LogEntry", "cert_index": 1000, "seen": 1764750000.25'));
    assert.ok(unb64(reports[0]!.raw).includes("Test log '\\u00dcn\\u00efcode'"));
    assert.equal(reports[0]!["feed.name"], "CertStream");
  } finally {
    await h.stop();
    await broker.close();
    await srv.close();
  }
});

test("calidog: the websocket breaks mid-stream: the collector connects again; every received update once", async () => {
  const srv = await server([
    async (ws) => {
      for (let i = 0; i < 50; i++) ws.send(JSON.stringify(update(i)));
      await sleep(50);
      ws.terminate(); // no close frame: a broken connection
    },
    async (ws) => {
      for (let i = 50; i < 100; i++) ws.send(JSON.stringify(update(i)));
    },
  ]);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "certstream", broker, logger: log, params: params(srv.url) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 100, "100 reports");
    await sleep(150);
    await h.stop();
    assert.equal(srv.connections, 2);
    const got = (await takeQueued(broker, "q")).map((r) => (JSON.parse(unb64(r.raw)) as { data: { cert_index: number } }).data.cert_index);
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => 1000 + i));
  } finally {
    await h.stop();
    await broker.close();
    await srv.close();
  }
});
