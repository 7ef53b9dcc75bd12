// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot, { LineSplitter } from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

/** A loopback HTTP server answering each connection with the next handler. */
async function server(handlers: ((res: ServerResponse, req: IncomingMessage) => void)[]) {
  let n = 0;
  const srv = createServer((req, res) => {
    const h = handlers[Math.min(n++, handlers.length - 1)]!;
    h(res, req);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/stream`,
    get connections() { return n; },
    close: () => { srv.closeAllConnections(); return new Promise<void>((r) => srv.close(() => r())); },
  };
}

/** Writes lines in small chunks (split inside lines), then ends or breaks off. */
async function stream(res: ServerResponse, text: string, end: "end" | "break" | "hang"): Promise<void> {
  res.writeHead(200, { "content-type": "text/plain" });
  for (let i = 0; i < text.length; i += 37) {
    res.write(text.slice(i, i + 37));
    await sleep(1);
  }
  if (end === "end") res.end();
  else if (end === "break") res.socket?.destroy();
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `{"n": ${from + i}, "ip": "192.0.2.${(from + i) % 256}"}`);
const params = (url: string, extra: Record<string, unknown> = {}) => ({
  http_url: url, destination_queues: ["q"], name: "Stream", rate_limit: 3600, error_retry_delay: 0.05,
  logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
});

test("http_stream: each non-empty line is a report (stripped, feed.url); the same line twice is two reports", async () => {
  const body = ["  first  ", "", "\t", ...lines(0, 100), "first"].join("\r\n") + "\nlast without newline";
  const srv = await server([(res) => void stream(res, body, "end"), () => { /* no second stream */ }]);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "http-stream", broker, logger: log, params: params(srv.url) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 103, "103 reports");
    await h.stop();
    const got = (await takeQueued(broker, "q")).map((r) => [unb64(r.raw), r["feed.url"]]);
    assert.deepEqual(got.map((g) => g[0]), ["first", ...lines(0, 100), "first", "last without newline"]);
    assert.ok(got.every((g) => g[1] === srv.url));
  } finally {
    await h.stop();
    await broker.close();
    await srv.close();
  }
});

test("http_stream: the stream breaks mid-line: the cut line is not sent, the collector connects again and goes on", async () => {
  const first = lines(0, 50).join("\n") + "\n" + '{"n": 50, "ip": "192.0';
  const second = lines(50, 100).join("\n") + "\n";
  const srv = await server([(res) => void stream(res, first, "break"), (res) => void stream(res, second, "hang")]);
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "http-stream", broker, logger: log, params: params(srv.url) });
  try {
    await until(async () => (await broker.queues.depth("q")) >= 100, "100 reports");
    await sleep(100);
    await h.stop();
    assert.equal(srv.connections, 2, "reconnected after the break");
    const got = (await takeQueued(broker, "q")).map((r) => unb64(r.raw));
    assert.deepEqual(got, lines(0, 100), "every whole line once, the cut one not at all");
  } finally {
    await h.stop();
    await broker.close();
    await srv.close();
  }
});

test("http_stream: back-pressure: the stream is not read past max_in_flight unstored reports", async () => {
  const srv = await server([(res) => void stream(res, lines(0, 300).join("\n") + "\n", "hang")]);
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let calls = 0;
  broker.queues.publish = async (q, data, opts) => { calls++; await gate; return publish(q, data, opts); };
  const h = await startBot({ def: bot, botId: "http-stream", broker, logger: log, params: params(srv.url, { max_in_flight: 20 }) });
  try {
    await sleep(500);
    assert.ok(calls <= 20, `at most 20 reports handed out while the broker stalls (${calls})`);
    release();
    await until(async () => (await broker.queues.depth("q")) >= 300, "300 reports");
    await h.stop();
    assert.deepEqual((await takeQueued(broker, "q")).map((r) => unb64(r.raw)), lines(0, 300));
  } finally {
    await h.stop();
    await broker.close();
    await srv.close();
  }
});

test("http_stream: line splitting across chunks (\\r\\n split between chunks)", () => {
  const s = new LineSplitter();
  const out = [...s.push(Buffer.from("a\r")), ...s.push(Buffer.from("\nb\rc")), ...s.push(Buffer.from("\n"))];
  assert.deepEqual(out.map(String), ["a", "b", "c"]);
  assert.equal(s.end(), null);
});
