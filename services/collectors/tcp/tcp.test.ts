// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { decodeEnvelope } from "../../../shared/message/index.js";
import { createLogger, startBot } from "../../../shared/runtime/index.js";
import { freePort } from "../../../test/helpers/nats-server.js";
import bot from "./index.js";

const log = createLogger({ level: "CRITICAL" });
const frame = (s: string | Buffer) => {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

/** Send bytes (optionally ending the connection) and collect what the collector answers until it closes or `until` is seen. */
function exchange(port: number, data: Buffer, opts: { end?: boolean; until?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    s.on("data", (d) => {
      got += d.toString();
      if (opts.until && got.includes(opts.until)) { s.destroy(); resolve(got); }
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
    s.write(data);
    if (opts.end) s.end();
  });
}

async function reports(broker: MemoryBroker): Promise<string[]> {
  const depth = await broker.queues.depth("out");
  const out: string[] = [];
  if (!depth) return out;
  const sub = await broker.queues.consume("out");
  const it = sub[Symbol.asyncIterator]();
  for (let i = 0; i < depth; i++) {
    const d = (await it.next()).value!;
    for (const m of decodeEnvelope(d.data)) out.push(Buffer.from(String((m as Record<string, unknown>).raw), "base64").toString());
    await d.ack();
  }
  await sub.stop();
  return out;
}

test("tcp collector: each frame is a report, answered Ok in order once queued; End when the sender closes", async () => {
  const port = await freePort();
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "tcp-collector", broker, logger: log, params: { destination_queues: "out", ip: "127.0.0.1", port, name: "TCP" } });
  try {
    const msgs = ['{"source.ip": "192.0.2.1"}', '{"source.ip": "192.0.2.2"}', "x".repeat(100_000)];
    const answer = await exchange(port, Buffer.concat(msgs.map(frame)), { end: true });
    assert.equal(answer, "OkOkOkEnd");
    assert.deepEqual(await reports(broker), msgs);
  } finally {
    await h.stop();
    await broker.close();
  }
});

test("tcp collector: an incomplete frame is not reported; a frame over max_message_bytes is refused", async () => {
  const port = await freePort();
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "tcp-collector", broker, logger: log, params: { destination_queues: "out", ip: "127.0.0.1", port, max_message_bytes: 1000 } });
  try {
    const whole = frame("complete");
    const partial = frame("cut short").subarray(0, 8);
    assert.equal(await exchange(port, Buffer.concat([whole, partial]), { end: true }), "OkIncomplete message");
    assert.equal(await exchange(port, frame("y".repeat(1001))), "Too large");
    assert.deepEqual(await reports(broker), ["complete"]);
  } finally {
    await h.stop();
    await broker.close();
  }
});

/** A sender's connection: the answers so far, and a wait for them to reach a text. */
function sender(port: number): { socket: Socket; answered(text: string): Promise<void> } {
  const socket = connect(port, "127.0.0.1");
  let got = "";
  let wake = (): void => {};
  socket.on("data", (d: Buffer) => { got += d.toString(); wake(); });
  socket.on("error", () => wake());
  return {
    socket,
    async answered(text) {
      while (got !== text) {
        if (socket.destroyed || !text.startsWith(got)) throw new Error(`answered ${JSON.stringify(got)}, expected ${JSON.stringify(text)}`);
        await new Promise<void>((r) => { wake = r; });
      }
    },
  };
}

test("tcp collector: the connection is reset mid-frame: the answered frames are queued once, the cut one only as sent again", { timeout: 20_000 }, async () => {
  const port = await freePort();
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "tcp-collector", broker, logger: log, params: { destination_queues: "out", ip: "127.0.0.1", port } });
  try {
    const msgs = ["a", "b", "c", "d", "e"].map((x) => `{"source.fqdn": "${x}.example.com"}`);
    const first = sender(port);
    first.socket.write(Buffer.concat([frame(msgs[0]!), frame(msgs[1]!)]));
    await first.answered("OkOk");
    // one write: the collector reads the cut frame together with the one it answers
    const d = frame(msgs[3]!);
    first.socket.write(Buffer.concat([frame(msgs[2]!), d.subarray(0, d.length >> 1)]));
    await first.answered("OkOkOk");
    first.socket.resetAndDestroy();
    // the sender sends again what was not answered
    const again = sender(port);
    again.socket.end(Buffer.concat([frame(msgs[3]!), frame(msgs[4]!)]));
    await again.answered("OkOkEnd");
    assert.deepEqual(await reports(broker), msgs, "each frame once, none lost");
  } finally {
    await h.stop();
    await broker.close();
  }
});
