// SPDX-License-Identifier: AGPL-3.0-only
// A loopback UDP receiver.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { sleep, waitFor } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "feed.name": "Ta\u0007b", "extra.n": 1.5, raw: Buffer.from("x").toString("base64") });

interface Receiver { port: number; got: string[]; stop(): Promise<void>; start(): Promise<void> }

async function receiver(): Promise<Receiver> {
  const got: string[] = [];
  let port = 0;
  let s: Socket;
  const start = () => new Promise<void>((resolve) => {
    s = createSocket("udp4");
    s.on("message", (m) => got.push(m.toString("utf8")));
    // A large buffer: the loopback drops datagrams when the receiver's buffer is full.
    s.bind(port, "127.0.0.1", () => { port = s.address().port; s.setRecvBufferSize(8 << 20); resolve(); });
  });
  await start();
  return { get port() { return port; }, got, start, stop: () => new Promise<void>((r) => s.close(() => r())) };
}

test("json: header + IntelMQ's to_json, control characters removed, raw dropped, one datagram per event", async () => {
  const r = await receiver();
  const out = await runBot(bot, { params: { ...HARNESS, format: "JSON", header: "intel\u0001mq: ", udp_host: "127.0.0.1", udp_port: r.port }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 0);
  await waitFor(() => r.got.length === 1, 2000, "a datagram");
  // JSON escapes the BEL of feed.name; the header's SOH is removed
  assert.equal(r.got[0], 'intelmq: {"extra.n": 1.5, "feed.name": "Ta\\u0007b", "source.ip": "192.0.2.1"}\n');
  await r.stop();
});

test("delimited: header, then delimiter key:value in the event's order, Python's str() of values", async () => {
  const r = await receiver();
  await runBot(bot, { params: { ...HARNESS, format: "delimited", header: "H", field_delimiter: "|", udp_host: "localhost", udp_port: r.port, keep_raw_field: true }, input: [ev("192.0.2.1")] });
  await waitFor(() => r.got.length === 1, 2000, "a datagram");
  assert.equal(r.got[0], "H|source.ip:192.0.2.1|feed.name:Tab|extra.n:1.5|raw:eA==\n");
  await r.stop();
});

test("no or an unknown format, no port: configuration errors", async () => {
  await assert.rejects(runBot(bot, { params: { ...HARNESS, udp_port: 9 }, input: [] }), /format/);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, format: "xml", udp_port: 9 }, input: [] }), /format/);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, format: "json" }, input: [] }), /udp_port/);
});

test("10,000 events through nats-server as datagrams: none twice, as many as the loopback delivers", { timeout: 300_000 }, async (t) => {
  const r = await receiver();
  const res = await runOutput({ module: "intelmq.bots.outputs.udp.output", params: { format: "json", header: "", udp_host: "127.0.0.1", udp_port: r.port }, read: () => r.got, expectAll: false });
  assert.equal(res.duplicated, 0);
  assert.ok(res.total > 0 && res.total <= 10_000);
  t.diagnostic(`${res.total} of 10,000 datagrams arrived`);
  await r.stop();
});

test("the receiver stopped and started again mid-run: the output goes on, nothing dumped", { timeout: 300_000 }, async (t) => {
  const r = await receiver();
  try {
    const res = await runOutput({
      module: "intelmq.bots.outputs.udp.output", params: { format: "json", header: "", udp_host: "127.0.0.1", udp_port: r.port }, read: () => r.got, expectAll: false, paceMs: 40,
      disturb: async (seen) => {
        await after(seen, 2_000, () => r.stop());
        await sleep(1000);
        await r.start();
      },
    });
    // What was sent while nobody listened is lost: UDP has no acknowledgement. Events after the restart arrive.
    assert.equal(res.duplicated, 0);
    assert.ok(r.got.some((g) => g.includes('"e9999.example.org"')), "the last event arrived after the restart");
    t.diagnostic(`${res.total} of 10,000 datagrams arrived`);
  } finally {
    await r.stop();
  }
});
