// SPDX-License-Identifier: AGPL-3.0-only
/** The sender against a full queue: it waits (the queue pushes back) and finishes once a consumer makes room. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { MemoryBroker } from "../../broker/index.js";
import { take } from "../../broker/testing.js";
import { Waker } from "../util.js";
import { Halted, Sender } from "./sender.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("a publish into a full queue waits until a consumer drains it, then goes through once", { timeout: 30_000 }, async () => {
  const broker = new MemoryBroker();
  await broker.queues.ensure("small", { maxMsgs: 2 });
  await broker.queues.ensure("other", { maxMsgs: 100 });
  let halted = false;
  const sender = new Sender(broker, pino({ level: "silent" }), () => halted, new Waker());
  await sender.publish("small", enc("1"), "id-1");
  await sender.publish("small", enc("2"), "id-2");
  let done = false;
  const third = sender.publish("small", enc("3"), "id-3").then(() => { done = true; });
  // Meanwhile the queue holds what it held, and the other queue takes messages as ever.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(done, false, "the sender waits while the queue is full");
  assert.equal(await broker.queues.depth("small"), 2);
  await sender.publish("other", enc("x"), "id-x");
  assert.equal(await broker.queues.depth("other"), 1);
  const sub = await broker.queues.consume("small");
  const it = sub[Symbol.asyncIterator]();
  const [first] = await take(it, 1);
  await first!.ack();
  await third;
  const rest = await take(it, 2);
  assert.deepEqual(rest.map((d) => dec(d.data)), ["2", "3"], "every message once, in order");
  await Promise.all(rest.map((d) => d.ack()));
  await sub.stop();
  assert.equal(await broker.queues.depth("small"), 0);
  // A stopping bot gives the wait up instead (its input stays unacknowledged).
  await sender.publish("small", enc("4"), "id-4");
  await sender.publish("small", enc("5"), "id-5");
  const given = sender.publish("small", enc("6"), "id-6");
  halted = true;
  await assert.rejects(given, (e: unknown) => e instanceof Halted);
  await broker.close();
});
