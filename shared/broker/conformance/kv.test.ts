// SPDX-License-Identifier: AGPL-3.0-only
/** KV buckets (the deduplicator's cache, the heartbeats), the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { until } from "../testing.js";
import { conformance, next } from "./harness.js";

conformance("kv", (fx) => {
  test("KV cache: create is atomic, get, put, delete, TTL", async () => {
    const b = await fx.broker();
    const kv = await b.kv.open(`cache-${process.pid}-${next()}`, 1);
    assert.equal(await kv.create("k1", "v1"), true);
    assert.equal(await kv.create("k1", "other"), false);
    assert.equal(await kv.get("k1"), "v1");
    assert.equal(await kv.get("missing"), null);
    await kv.put("k2", "v2");
    assert.equal(await kv.get("k2"), "v2");
    await kv.delete("k2");
    assert.equal(await kv.get("k2"), null);
    assert.equal(await kv.create("k2", "v2b"), true, "create after delete");
    // Concurrent creates: exactly one wins.
    const wins = await Promise.all(Array.from({ length: 5 }, (_, i) => kv.create("race", `r${i}`)));
    assert.equal(wins.filter(Boolean).length, 1);
    await until(async () => (await kv.get("k1")) === null, 10_000, "k1 expired after the TTL");
    assert.equal(await kv.create("k1", "v1 again"), true, "create after expiry");
    assert.equal(await kv.get("k1"), "v1 again");
  });

  test("KV createOrGet: null for the one that created the key, the held value for the others; after a delete it creates again", async () => {
    const b = await fx.broker();
    const kv = await b.kv.open(`cog-${process.pid}-${next()}`, 60);
    assert.equal(await kv.createOrGet("k", "first"), null);
    assert.equal(await kv.createOrGet("k", "second"), "first");
    const got = await Promise.all(Array.from({ length: 5 }, (_, i) => kv.createOrGet("race", `r${i}`)));
    const winners = got.filter((v) => v === null).length;
    assert.equal(winners, 1);
    const held = await kv.get("race");
    assert.ok(got.every((v) => v === null || v === held), "every loser read the winner's value");
    await kv.delete("k");
    assert.equal(await kv.get("k"), null, "a deleted key reads as missing");
    assert.equal(await kv.createOrGet("k", "third"), null, "a deleted key is created again");
    assert.equal(await kv.get("k"), "third");
    assert.equal(await kv.createOrGet("dotted.key-1", "x"), null);
    assert.equal(await kv.createOrGet("dotted.key-1", "y"), "x");
  });

  test("KV entries list live keys by prefix", async () => {
    const b = await fx.broker();
    const kv = await b.kv.open(`hb${process.pid}x${next()}`, 60);
    await kv.put("bot-a.h-1", "1");
    await kv.put("bot-a.h-2", "2");
    await kv.put("bot-b.h-1", "3");
    await kv.delete("bot-a.h-2");
    assert.deepEqual([...(await kv.entries("bot-a."))], [["bot-a.h-1", "1"]]);
    assert.equal((await kv.entries()).size, 2);
    const short = await b.kv.open(`hb${process.pid}s${next()}`, 1);
    await short.put("bot-c.h-1", "gone soon");
    assert.equal((await short.entries()).size, 1);
    await until(async () => (await short.entries()).size === 0, 5000, "the entry to expire");
  });

  test("openExisting opens only what exists; delete removes the bucket", async () => {
    const b = await fx.broker();
    const name = `oc${process.pid}x${next()}`;
    assert.equal(await b.kv.openExisting(name), null, "nothing is created");
    assert.equal(await b.kv.openExisting(name), null);
    const kv = await b.kv.open(name, 60);
    await kv.put("a", "1");
    await kv.put("b", "2");
    const opened = await b.kv.openExisting(name);
    assert.ok(opened);
    assert.equal(await opened.get("a"), "1");
    assert.equal(await opened.size(), 2);
    assert.equal(await b.kv.delete(name), true);
    assert.equal(await b.kv.openExisting(name), null);
    assert.equal(await b.kv.delete(name), false);
  });

  test("a KV bucket's size limit: a full bucket forgets its oldest keys, a larger limit applies to the existing bucket", async () => {
    const b = await fx.broker();
    const name = `lim${process.pid}x${next()}`;
    const kv = await b.kv.open(name, 60, { maxBytes: 2000 });
    const value = "v".repeat(100);
    for (let i = 0; i < 40; i++) await kv.put(`k${i}`, value);
    assert.equal(await kv.get("k39"), value, "the newest is kept");
    assert.equal(await kv.get("k0"), null, "the oldest went");
    const kept = (await kv.entries()).size;
    assert.ok(kept > 0 && kept < 40, `some were forgotten (${kept} kept)`);
    const again = await b.kv.open(name, 60, { maxBytes: 100_000 });
    for (let i = 0; i < 40; i++) await again.put(`n${i}`, value);
    assert.equal(await again.get("n0"), value, "room for all of them now");
    assert.equal(await again.create("n0", "x"), false);
  });

  test("claim sets: the first owner of a key holds it, also against another connection; repeats and a key twice in one call", async () => {
    const name = `cl${process.pid}x${next()}`;
    const a = await (await fx.broker()).kv.claims(name, 60);
    const h = (n: number) => n.toString(16).padStart(8, "0").repeat(8);
    assert.deepEqual(await a.claim([], []), []);
    assert.deepEqual(await a.claim([h(1), h(2), h(1), "not a hash"], ["o1", "o2", "o3", "o4"]), [true, true, false, true]);
    assert.deepEqual(await a.claim([h(1), h(1), "not a hash"], ["o1", "o9", "o4"]), [true, false, true], "known keys: their owner's again, others' not");
    // A second connection (JetStream) loads what is claimed and agrees.
    const b = await (await fx.broker()).kv.claims(name, 60);
    assert.deepEqual(await b.claim([h(1), h(2), h(3)], ["o2", "o2", "o3"]), [false, true, true]);
    assert.deepEqual(await a.claim([h(3)], ["o1"]), [false], "a key claimed on the other connection");
    // Both at once on the same new keys: every key has one owner, and both say the same.
    const keys = Array.from({ length: 200 }, (_, i) => h(1000 + i));
    const [ra, rb] = await Promise.all([a.claim(keys, keys.map(() => "A")), b.claim(keys, keys.map(() => "B"))]);
    assert.ok(ra.every((x, i) => x !== rb[i]), "each key went to exactly one of them");
    assert.deepEqual(await b.claim(keys, keys.map(() => "A")), ra, "and the other connection knows whose it is");
    assert.ok(a.size >= 204);
    await a.close();
    await b.close();
    assert.equal(await (await fx.broker()).kv.deleteClaims(name), true);
    assert.equal(await (await fx.broker()).kv.deleteClaims(name), false);
  });

  test("claim sets: a key is free again after the TTL", async () => {
    const name = `clt${process.pid}x${next()}`;
    const set = await (await fx.broker()).kv.claims(name, 1);
    assert.deepEqual(await set.claim(["k"], ["first"]), [true]);
    assert.deepEqual(await set.claim(["k"], ["second"]), [false]);
    await until(async () => (await set.claim(["k"], ["second"]))[0] === true, 5000, "the claim to expire");
    assert.deepEqual(await set.claim(["k"], ["first"]), [false], "claimed anew by the second");
    await set.close();
  });
});
