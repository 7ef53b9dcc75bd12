// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Strays: after nats-server comes back from a crash, a queue can hold messages its consumer
 * counts as acknowledged. A running bot removes the ones it completed and puts back the others,
 * keeping their identity, so that nothing the server lost track of is lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { MemoryBroker, composeBroker, type BrokerState, type PeekedMessage } from "../broker/index.js";
import { decodeEnvelope, encodeEnvelope, type Event } from "../message/index.js";
import { createLogger, defineBot, startBot, type SettledInfo } from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const ev = (ip: string) => ({ __type: "Event", "time.observation": "2015-01-01T00:00:00+00:00", "source.ip": ip });

test("after a reconnect, strays the bot completed are removed, the others are put back with their identity and processed once", { timeout: 30_000 }, async () => {
  const base = new MemoryBroker();
  let calls = 0;
  const expert = defineBot({
    kind: "expert", name: "t", intelmq: "t", description: "t", params: z.object({}),
    create: () => ({ process(e: Event) { calls++; return e; } }),
  });
  const listeners = new Set<(s: BrokerState) => void>();
  let strays: PeekedMessage[] = [];
  const removed: number[] = [];
  const broker = composeBroker(base, {
    queues: {
      strays: async () => strays,
      remove: async (_q, seq) => { removed.push(seq); return true; },
    },
  });
  const withState = { ...broker, onState: (l: (s: BrokerState) => void) => { listeners.add(l); return () => listeners.delete(l); } } as typeof broker;
  const settled: SettledInfo[] = [];
  const h = await startBot({ def: expert, botId: "ex", params: { destination_queues: ["out"] }, broker: withState, logger: log, listeners: { settled: (s) => settled.push(s) } });
  const done = await new Promise<SettledInfo>((resolve) => {
    h.on("settled", resolve);
    void base.queues.publish("ex-queue", encodeEnvelope([ev("192.0.2.1")]), { msgId: "up:1" });
  });
  assert.equal(done.outcome, "acked");
  assert.equal(calls, 1);
  // The server comes back holding the completed message (a ghost) and one it lost track of.
  const lost = encodeEnvelope([ev("192.0.2.2")]);
  strays = [
    { seq: 1, data: encodeEnvelope([ev("192.0.2.1")]), headers: { "Nats-Msg-Id": "up:1" } },
    { seq: 7, data: lost, headers: { "Nats-Msg-Id": "up:7" } },
  ];
  for (const l of listeners) l("disconnected");
  for (const l of listeners) l("connected");
  const deadline = Date.now() + 10_000;
  while (settled.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(removed.sort(), [1, 7], "both leave their place in the stream");
  assert.equal(calls, 2, "the lost one was processed, the ghost was not");
  const out = await base.queues.consume("out");
  const it = out[Symbol.asyncIterator]();
  const got: unknown[] = [];
  for (let i = 0; i < 2; i++) got.push(...decodeEnvelope((await it.next()).value!.data).map((e) => e["source.ip"]));
  await out.stop();
  assert.deepEqual(got, ["192.0.2.1", "192.0.2.2"]);
  await h.stop();
  await base.close();
});
