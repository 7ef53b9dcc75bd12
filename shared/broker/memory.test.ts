// SPDX-License-Identifier: AGPL-3.0-only
/** What only the memory broker does (conformance/ holds what both brokers do alike). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, hasCode } from "../errors/index.js";
import { MemoryBroker } from "./index.js";
import { take } from "./testing.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("memory broker specifics", { timeout: 60_000 }, () => {
  test("closing returns held deliveries to their queue and refuses new work", async () => {
    const b = new MemoryBroker();
    await b.queues.publish("q", enc("a"));
    const sub = await b.queues.consume("q");
    await take(sub[Symbol.asyncIterator](), 1);
    const states: string[] = [];
    b.onState((s) => states.push(s));
    await b.close();
    assert.equal(b.state, "closed");
    assert.deepEqual(states, ["closed"]);
    assert.equal(await b.queues.depth("q"), 1);
    await assert.rejects(b.queues.publish("q", enc("b")), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
  });

  test("log lines: at most 10000 per bot (the oldest go), none after close", async () => {
    const b = new MemoryBroker();
    for (let i = 0; i < 10_005; i++) b.logs.append("busy", `l${i}`);
    const all = await b.logs.read("busy", Infinity);
    assert.equal(all.length, 10_000);
    assert.equal(all[0], "l5");
    assert.equal(all.at(-1), "l10004");
    await b.close();
    assert.doesNotThrow(() => b.logs.append("busy", "late"));
    assert.equal((await b.logs.read("busy", 1))[0], "l10004");
  });

  test("a full queue pushes back with BrokerUnavailableError", async () => {
    const b = new MemoryBroker();
    await b.queues.ensure("small", { maxBytes: 10 });
    await b.queues.publish("small", enc("12345678"));
    await assert.rejects(b.queues.publish("small", enc("123")), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
    await b.close();
  });

  test("maxInFlight bounds what one subscriber holds", async () => {
    const b = new MemoryBroker();
    for (let i = 0; i < 10; i++) await b.queues.publish("w", enc(String(i)));
    const sub = await b.queues.consume("w", { maxInFlight: 3 });
    const it = sub[Symbol.asyncIterator]();
    const first = await take(it, 3);
    await assert.rejects(take(it, 1, 100), /timed out/);
    await first[0]!.ack();
    const [next] = await take(it, 1);
    assert.equal(dec(next!.data), "3");
    await b.close();
  });
});
