// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { Packr, unpack } from "msgpackr";
import { packItems } from "./pack.js";
import { decodeEnvelope, encodeChunk } from "./index.js";

// msgpackr as the envelopes used it before pack.ts: the reference our bytes must equal
const reference = new Packr({ useRecords: true, bundleStrings: true, moreTypes: false });

type Item = Record<string, unknown>;

function event(i: number): Item {
  return {
    __type: "Event", "feed.accuracy": 100, "feed.name": "Bench Feed", "feed.url": "https://feeds.example.org/bench.csv",
    "time.observation": "2024-09-16T10:00:00+00:00", "source.ip": `184.15.${i % 256}.183`, "source.fqdn": `api${i}.raven-pixel.cn`,
    "source.url": `https://api${i}.raven-pixel.cn/maple/${String(i).padStart(8, "0")}.exe`, "time.source": "2024-09-09T17:42:00+00:00",
    "classification.type": "c2-server", "malware.name": "formbook", "source.port": i % 65536, "source.asn": 289785 + i,
    raw: Buffer.from(`line ${i}`).toString("base64"), "classification.taxonomy": "malicious-code", "extra.ok": i % 2 === 0,
  };
}

/** A small seeded generator (mulberry32), so that a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  0, 1, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1,
  -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001, -0, 0.5, 100.25, -3.75, 1e300, NaN, Infinity, -Infinity,
];
const LENGTHS = [0, 1, 3, 4, 5, 31, 32, 63, 64, 65, 255, 256, 4095, 4096, 4097, 70000];

/** Random text: slices of a fixed random ASCII text, with some non-ASCII characters put in unless `ascii`. */
const POOL = (() => {
  const r = rng(99);
  let s = "";
  for (let i = 0; i < 80_000; i++) s += String.fromCharCode(Math.floor(r() * 0x80));
  return s;
})();
function randomString(r: () => number, ascii: boolean): string {
  const n = r() < 0.8 ? LENGTHS[Math.floor(r() * 10)]! + Math.floor(r() * 40) : LENGTHS[Math.floor(r() * LENGTHS.length)]!;
  const at = Math.floor(r() * (POOL.length - n));
  let s = POOL.slice(at, at + n);
  if (!ascii && s.length > 0 && r() < 0.1) {
    const i = Math.floor(r() * s.length);
    s = s.slice(0, i) + ["é", "€", "😀"][Math.floor(r() * 3)] + s.slice(i + 1);
  }
  return s;
}

function randomItems(r: () => number, opts: { ascii: boolean; shapes: number }): Item[] {
  const keys = Array.from({ length: 24 }, (_, i) => ["id", "source.ip", "x", "extra.k" + i, "feed.name", "raw"][i % 6]! + (i >= 6 ? i : ""));
  const shapes = Array.from({ length: opts.shapes }, () => {
    const ks = keys.filter(() => r() < 0.4);
    return ks.length > 0 ? ks.sort(() => r() - 0.5) : ["only"];
  });
  const n = 1 + Math.floor(r() * 300);
  return Array.from({ length: n }, () => {
    const item: Item = {};
    for (const k of shapes[Math.floor(r() * shapes.length)]!) {
      const t = r();
      item[k] = t < 0.6 ? randomString(r, opts.ascii) : t < 0.9 ? NUMBERS[Math.floor(r() * NUMBERS.length)]! : r() < 0.5;
    }
    return item;
  });
}

function assertSame(items: Item[], label: string): boolean {
  const ours = packItems(items);
  if (ours === null) return false;
  const theirs = reference.pack(items);
  assert.ok(Buffer.from(ours).equals(Buffer.from(theirs)), `${label}: bytes differ from msgpackr's`);
  assert.deepEqual(unpack(ours), unpack(theirs), label);
  return true;
}

test("packItems: the bytes of msgpackr's records and bundled strings, for a chunk of events", () => {
  const items = Array.from({ length: 100 }, (_, i) => event(i));
  assert.ok(assertSame(items, "events"));
  assert.deepEqual(decodeEnvelope(encodeChunk(items)), items);
});

test("packItems: random items of ASCII, numbers and booleans are packed as msgpackr packs them", () => {
  let packed = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const items = randomItems(r, { ascii: true, shapes: 1 + Math.floor(r() * 12) });
    if (assertSame(items, `seed ${seed}`)) packed++;
  }
  assert.equal(packed, 300, "every ASCII case is ours to pack");
});

test("packItems: bundles that pass 0x5500 characters roll over as msgpackr's do", () => {
  const items = Array.from({ length: 40 }, (_, i) => ({ a: "x".repeat(4000 + i), b: "yz".repeat(1000), c: i, d: "ab" }));
  assert.ok(assertSame(items, "rollover"));
  const exact = [{ a: "q".repeat(0x5500 - 4) }, { a: "wxyz" }, { a: "1234" }];
  assert.ok(assertSame(exact, "at the limit"));
  // shapes that share their first key: an item is written as the previous shape until its second
  // key differs, after its first string opened a new bundle, and is then taken back
  const alternating = Array.from({ length: 30 }, (_, i) => (i % 2 ? { a: "m".repeat(3000 + i), c: i } : { a: "n".repeat(3000 + i), b: "bb" + i }));
  assert.ok(assertSame(alternating, "a bundle opened by an item taken back"));
});

test("packItems: non-ASCII text, other types and more than 64 shapes are left to msgpackr", () => {
  assert.equal(packItems([{ a: "café au lait" }]), null);
  assert.equal(packItems([{ a: "é" }]), null);
  assert.equal(packItems([{ a: "x".repeat(5000) + "€" }]), null);
  assert.equal(packItems([{ a: { nested: 1 } }]), null);
  assert.equal(packItems([{ a: [1, 2] }]), null);
  assert.equal(packItems([{ a: null }]), null);
  assert.equal(packItems([{ a: undefined }]), null);
  assert.equal(packItems([new Map([["a", 1]]) as unknown as Item]), null);
  const many = Array.from({ length: 65 }, (_, i) => ({ [`k${i}`]: i }));
  assert.equal(packItems(many), null);
  assert.ok(assertSame(many.slice(0, 64), "64 shapes"));
  let mixed = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const items = randomItems(rng(seed), { ascii: false, shapes: 3 });
    // whatever packs them, the envelope decodes to the items
    assert.deepEqual(decodeEnvelope(encodeChunk(items)), unpack(reference.pack(items)), `seed ${seed}`);
    if (!assertSame(items, `seed ${seed}`)) mixed++;
  }
  assert.ok(mixed > 50, "most mixed cases hold non-ASCII text");
});

test("packItems: packs share a slab, and one that outgrows it moves whole, its earlier results intact", () => {
  const big = Array.from({ length: 40 }, (_, i) => ({ a: "x".repeat(4000 + i), b: "yz".repeat(1000), c: i }));
  const small = Array.from({ length: 30 }, (_, i) => event(i));
  const results: [Uint8Array, Item[]][] = [];
  for (let round = 0; round < 12; round++) {
    const items = round % 3 === 2 ? big : small;
    const bytes = packItems(items);
    assert.ok(bytes !== null);
    assert.ok(Buffer.from(bytes).equals(Buffer.from(reference.pack(items))), `round ${round}`);
    results.push([bytes, items]);
  }
  for (const [bytes, items] of results) assert.deepEqual(unpack(bytes), items);
});

test("packItems: an empty envelope, empty items, integer-like keys, 70,000 items and strings of 64 KiB as msgpackr has them", () => {
  assert.ok(assertSame([], "empty envelope"));
  assert.ok(assertSame([{}, {}, { a: 1 }, {}], "empty items"));
  assert.ok(assertSame([{ "2": "xyzw", "1": "abcd", b: 1 }], "integer-like keys come first, as for-in gives them"));
  assert.ok(assertSame(Array.from({ length: 70_000 }, (_, i) => ({ k: i })), "array 32"));
  assert.ok(assertSame([{ a: "z".repeat(0x10000) }, { a: "z".repeat(0xffff) }], "str 32 and str 16"));
  assert.equal(packItems([{ a: "ab\ud800cd" }]), null, "a lone surrogate is not ASCII");
  assert.equal(packItems([{ "clé": "valeur" }]), null, "nor is a key with an accent");
});
