// SPDX-License-Identifier: AGPL-3.0-only
/** What only the memory broker does (conformance/ holds what both brokers do alike). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, hasCode } from "../errors/index.js";
import { DEFAULTS, MemoryBroker } from "./index.js";
import { take } from "./testing.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("memory broker specifics", { timeout: 60_000 }, () => {
  test("limits: full dumps refuse (a delete makes room), the logs and caches keep their bytes by forgetting the oldest", async () => {
    const b = new MemoryBroker({ limits: { dumpsMaxBytes: 3000, logsMaxBytes: 100, cacheMaxBytes: 500 } });
    assert.equal(b.limits.dumpsMaxBytes, 3000);
    assert.equal(b.limits.statusMaxBytes, DEFAULTS.statusMaxBytes);
    const entry = { bot_id: "m", source_queue: "q", traceback: ["x"], message: "m".repeat(900), timestamp: "2024-01-01T00:00:00" };
    await b.dumps.store(entry);
    await b.dumps.store(entry);
    await b.dumps.store(entry);
    await assert.rejects(b.dumps.store(entry), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable) && /dumps are full/.test(String(e)));
    const [first] = await b.dumps.read("m");
    await b.dumps.delete(first!.seq);
    await b.dumps.store(entry);
    assert.equal((await b.dumps.read()).length, 3);
    for (let i = 0; i < 20; i++) b.logs.append(i % 2 ? "a" : "b", `line ${String(i).padStart(2, "0")}`);
    const a = await b.logs.read("a", Infinity);
    const bl = await b.logs.read("b", Infinity);
    assert.ok([...a, ...bl].join("").length <= 100);
    assert.equal(a.at(-1), "line 19");
    assert.equal(bl.at(-1), "line 18");
    assert.ok(!a.includes("line 01"), "the oldest went");
    const kv = await b.kv.open("cache", 60);
    for (let i = 0; i < 20; i++) await kv.put(`k${i}`, "v".repeat(48));
    assert.equal(await kv.get("k0"), null);
    assert.equal(await kv.get("k19"), "v".repeat(48));
    await b.close();
  });

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
