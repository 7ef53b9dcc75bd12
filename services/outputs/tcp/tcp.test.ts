// SPDX-License-Identifier: AGPL-3.0-only
// A loopback peer speaking IntelMQ's TCP collector protocol (length-prefixed JSON, "Ok" for each message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { runOutput, after } from "../../../test/helpers/output-e2e.js";
import { sleep } from "../../../test/helpers/pipeline.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, raw: Buffer.from("x").toString("base64") });

interface Peer { port: number; messages: string[]; stop(): Promise<void>; start(): Promise<void> }

/** IntelMQ's TCP collector, or with `separator` a plain line reader; `answer` replaces "Ok" for the first n messages. */
async function peer(opts: { separator?: string; answer?: { text: string; times: number } } = {}): Promise<Peer> {
  const messages: string[] = [];
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  let refused = opts.answer?.times ?? 0;
  const start = () => new Promise<void>((resolve) => {
    server = createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
      let buf = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (opts.separator) {
            const i = buf.indexOf(opts.separator);
            if (i < 0) return;
            messages.push(buf.subarray(0, i).toString("utf8"));
            buf = buf.subarray(i + opts.separator.length);
            continue;
          }
          if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
          const n = buf.readUInt32BE(0);
          const msg = buf.subarray(4, 4 + n).toString("utf8");
          buf = buf.subarray(4 + n);
          if (refused > 0) { refused--; s.write(opts.answer!.text); continue; }
          messages.push(msg);
          s.write("Ok");
        }
      });
    });
    server.listen(port, "127.0.0.1", () => { port = (server.address() as { port: number }).port; resolve(); });
  });
  await start();
  return {
    get port() { return port; }, messages, start,
    stop: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

test("length-prefixed JSON (IntelMQ's to_json, raw kept), each answered Ok", async () => {
  const p = await peer();
  const out = await runBot(bot, { params: { ...HARNESS, ip: "127.0.0.1", port: p.port }, input: [ev("192.0.2.1"), ev("192.0.2.2")] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(p.messages, ['{"raw": "eA==", "source.ip": "192.0.2.1"}', '{"raw": "eA==", "source.ip": "192.0.2.2"}']);
  await p.stop();
});

test("separator without the handshake (Logstash, filebeat); hierarchical_output", async () => {
  const p = await peer({ separator: "\n" });
  await runBot(bot, { params: { ...HARNESS, ip: "127.0.0.1", port: p.port, separator: "\n", counterpart_is_intelmq: false, hierarchical_output: true }, input: [ev("192.0.2.1")] });
  await sleep(100);
  assert.deepEqual(p.messages, ['{"raw": "eA==", "source": {"ip": "192.0.2.1"}}']);
  await p.stop();
});

test("an answer other than Ok: the message is sent again; no ip: configuration error", async () => {
  const p = await peer({ answer: { text: "No", times: 1 } });
  const out = await runBot(bot, { params: { ...HARNESS, error_max_retries: 2, ip: "127.0.0.1", port: p.port }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 0);
  assert.equal(p.messages.length, 1);
  await p.stop();
  await assert.rejects(runBot(bot, { params: { ...HARNESS, port: 1 }, input: [] }), /ip configuration failed/);
});

test("10,000 events through nats-server to the TCP peer: each once", { timeout: 300_000 }, async () => {
  const p = await peer();
  const r = await runOutput({ module: "intelmq.bots.outputs.tcp.output", params: { ip: "127.0.0.1", port: p.port }, read: () => p.messages });
  assert.deepEqual({ missing: r.missing, duplicated: r.duplicated, total: r.total }, { missing: 0, duplicated: 0, total: 10_000 });
  await p.stop();
});

test("the TCP peer stopped and started again twice mid-run: nothing lost, the output resumes", { timeout: 300_000 }, async (t) => {
  const p = await peer();
  const r = await runOutput({
    module: "intelmq.bots.outputs.tcp.output", params: { ip: "127.0.0.1", port: p.port }, read: () => p.messages,
    disturb: async (seen) => {
      for (const n of [2_000, 6_000]) {
        await after(seen, n, () => p.stop());
        await sleep(3000);
        await p.start();
      }
    },
  });
  // At least once: a message the peer took but whose Ok was lost with the connection is sent again.
  assert.equal(r.missing, 0);
  t.diagnostic(`${r.total} messages for 10,000 events (${r.duplicated} sent twice)`);
  await p.stop();
});
