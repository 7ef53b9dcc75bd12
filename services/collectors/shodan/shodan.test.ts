// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { decodeEnvelope } from "../../../shared/message/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { startPeer } from "../lib/testing.js";
import bot from "./index.js";

const log = createLogger({ level: "CRITICAL" });
const banner = (n: number) => JSON.stringify({ ip_str: `192.0.2.${n}`, port: 80, location: { country_code: "AT" }, data: `HTTP/1.1 200 OK #${n}` });

async function waitFor(what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function drainQueue(broker: MemoryBroker, queue: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const depth = await broker.queues.depth(queue);
  if (!depth) return out;
  const sub = await broker.queues.consume(queue);
  const it = sub[Symbol.asyncIterator]();
  for (let i = 0; i < depth; i++) {
    const d = (await it.next()).value!;
    out.push(...decodeEnvelope(d.data).map((m) => m as Record<string, unknown>));
    await d.ack();
  }
  await sub.stop();
  return out;
}

test("each banner line is a report; a connection dropped mid-line is opened again without losing or repeating a banner", async () => {
  let connections = 0;
  const peer = await startPeer((req, res) => {
    if (!req.url.startsWith("/shodan/countries/AT,DE?key=k3y")) { res.writeHead(401); return res.end('{"error": "Invalid API key"}'); }
    connections++;
    res.writeHead(200, { "content-type": "application/json" });
    if (connections === 1) {
      res.write(banner(1) + "\n\n" + banner(2) + "\n" + banner(3).slice(0, 20));
      setTimeout(() => res.destroy(), 50);
    } else {
      res.write(banner(4) + "\r\n");
      res.write(banner(5) + "\n");
      // stays open, as Shodan's stream does
    }
  });
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "shodan", broker, logger: log, params: { destination_queues: "out", name: "Shodan", api_key: "k3y", countries: "AT,DE", api_url: peer.url, error_max_retries: 3 } });
  try {
    await waitFor("four banners", async () => (await broker.queues.depth("out")) >= 4);
    await new Promise((r) => setTimeout(r, 100));
    const got = await drainQueue(broker, "out");
    assert.deepEqual(got.map((r) => Buffer.from(String(r.raw), "base64").toString()), [banner(1), banner(2), banner(4), banner(5)]);
    assert.equal(got[0]!["feed.name"], "Shodan");
    assert.equal(connections, 2);
    assert.equal(h.stats().failure, 0, "one drop is within error_max_retries");
  } finally {
    await h.stop();
    await peer.close();
    await broker.close();
  }
});

test("more failures in a row than error_max_retries fail the round; alert streams its own path", async () => {
  const paths: string[] = [];
  const peer = await startPeer((req, res) => {
    paths.push(req.url.split("?")[0]!);
    res.writeHead(503);
    res.end("unavailable");
  });
  const broker = new MemoryBroker();
  const lines: string[] = [];
  const logger = createLogger({ level: "INFO", destination: { write: (l: string) => { lines.push(l); } } });
  const h = await startBot({ def: bot, botId: "shodan", broker, logger, params: { destination_queues: "out", api_key: "k3y", alert: "ALERTID", api_url: peer.url, error_max_retries: 1, error_retry_delay: 0 } });
  try {
    await waitFor("a failed round", () => h.stats().failure >= 1);
    assert.equal(paths[0], "/shodan/alert/ALERTID");
    assert.ok(paths.length >= 2, "retried once within the round");
    assert.equal(await broker.queues.depth("out"), 0);
  } finally {
    await h.stop();
    await peer.close();
    await broker.close();
  }
});
