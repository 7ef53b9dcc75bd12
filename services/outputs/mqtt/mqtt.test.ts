// SPDX-License-Identifier: AGPL-3.0-only
// Against the machine's Mosquitto on 127.0.0.1:1883; topics of random names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import mqtt from "mqtt";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { startTcpProxy } from "../../../test/helpers/tcp-proxy.js";
import { sleep, waitFor } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const MODULE = "intelmq_nats.bots.outputs.mqtt.output";
const ev = (ip: string, type = "scanner") => ({ __type: "Event", "source.ip": ip, "classification.type": type, raw: Buffer.from("x").toString("base64") });

async function withSubscriber(fn: (base: string, got: { topic: string; body: string }[]) => Promise<void>): Promise<void> {
  const base = `intelmq-nats-test/${randomUUID()}`;
  const sub = await mqtt.connectAsync({ host: "127.0.0.1", port: 1883, reconnectPeriod: 0 });
  const got: { topic: string; body: string }[] = [];
  sub.on("message", (topic, payload) => got.push({ topic, body: payload.toString("utf8") }));
  await sub.subscribeAsync(`${base}/#`, { qos: 1 });
  try {
    await fn(base, got);
  } finally {
    await sub.endAsync();
  }
}

test("events published as JSON with QoS 1; format_topic; single_key", async () => {
  await withSubscriber(async (base, got) => {
    const out = await runBot(bot, { params: { ...HARNESS, topic: `${base}/{ev[classification.type]}`, format_topic: true }, input: [ev("192.0.2.1"), ev("192.0.2.2", "phishing")] });
    assert.equal(out.dumped, 0);
    await runBot(bot, { params: { ...HARNESS, topic: `${base}/ips`, single_key: "source.ip" }, input: [ev("192.0.2.3")] });
    await waitFor(() => got.length >= 3, 5000, "3 messages");
    assert.deepEqual(got.map((g) => g.topic), [`${base}/scanner`, `${base}/phishing`, `${base}/ips`]);
    assert.deepEqual(JSON.parse(got[0]!.body), { "classification.type": "scanner", "source.ip": "192.0.2.1" });
    assert.equal(got[2]!.body, "192.0.2.3");
  });
});

test("the broker unreachable: the flush fails, the input is dumped after its retries", async () => {
  const proxy = await startTcpProxy(1883);
  await proxy.cut();
  const out = await runBot(bot, { params: { ...HARNESS, port: proxy.port }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 1);
  await proxy.close();
});

test("10,000 events through nats-server into Mosquitto: each once", { timeout: 300_000 }, async () => {
  await withSubscriber(async (base, got) => {
    const r = await runOutput({ module: MODULE, params: { topic: `${base}/events` }, read: () => got.map((g) => g.body) });
    assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  });
});

test("the broker cut off twice mid-run (a proxy dropped): nothing lost, the output resumes", { timeout: 300_000 }, async (t) => {
  await withSubscriber(async (base, got) => {
    const proxy = await startTcpProxy(1883);
    try {
      const r = await runOutput({
        module: MODULE, params: { topic: `${base}/events`, port: proxy.port }, read: () => got.map((g) => g.body),
        disturb: async (seen) => {
          for (const n of [2_000, 6_000]) {
            await after(seen, n, () => proxy.cut());
            await sleep(3000);
            await proxy.restore();
          }
        },
      });
      // At least once: publications whose PUBACK was lost with the connection are published again.
      assert.equal(r.missing, 0);
      t.diagnostic(`${r.total} messages for 10,000 events (${r.duplicated} published twice)`);
    } finally {
      await proxy.close();
    }
  });
});
