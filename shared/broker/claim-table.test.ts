// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClaimTable, keyWords, ownerHash } from "./claim-table.js";

const h = (n: number) => n.toString(16).padStart(8, "0").repeat(8);
/** The owner hash holding `key` now, from a copy of its words (keyWords' array is shared). */
const find = (t: ClaimTable, key: string, now = Date.now()) => t.find(keyWords(key).slice(), now);
const claim = (t: ClaimTable, key: string, owner: string, now = Date.now()) => t.claim(keyWords(key).slice(), ownerHash(owner), now, now);

test("claim table: the first claim wins, two generations, growth, TTL from the claim", async () => {
  const t = new ClaimTable(60_000, 4); // two generations of two keys
  assert.equal(find(t, h(1)), undefined);
  assert.equal(claim(t, h(1), "q:1"), ownerHash("q:1"));
  assert.equal(claim(t, h(1), "q:2"), ownerHash("q:1"), "the first claim is kept");
  claim(t, h(2), "q:2");
  claim(t, h(3), "q:3"); // the first generation is full: a second starts
  assert.equal(find(t, h(1)), ownerHash("q:1"), "the older generation still answers");
  claim(t, h(4), "q:4");
  claim(t, h(5), "q:5"); // the second is full: the first is dropped
  assert.equal(find(t, h(1)), undefined);
  assert.deepEqual([3, 4, 5].map((n) => find(t, h(n))), [3, 4, 5].map((n) => ownerHash(`q:${n}`)));
  assert.equal(t.size, 3);
  // keys alike in the slot they start from are told apart by all 8 bytes kept; the table grows past its first slots
  const key = (i: number) => "00000001" + i.toString(16).padStart(8, "0") + "0".repeat(48);
  const big = new ClaimTable(60_000, 100_000);
  for (let i = 0; i < 20_000; i++) claim(big, key(i), `q:${i}`);
  for (let i = 0; i < 20_000; i += 7) assert.equal(find(big, key(i)), ownerHash(`q:${i}`));
  assert.equal(find(big, key(99_999)), undefined);
  assert.equal(big.size, 20_000);
  // a claim expires a TTL after its (whole) second; a claim already expired changes nothing
  const short = new ClaimTable(1000, 10);
  claim(short, h(7), "q:7");
  assert.equal(short.claim(keyWords(h(8)).slice(), 1, Date.now() - 5000, Date.now()), undefined);
  assert.equal(find(short, h(8)), undefined);
  await new Promise((r) => setTimeout(r, 1050));
  assert.equal(find(short, h(7)), undefined);
  assert.equal(claim(short, h(7), "q:8"), ownerHash("q:8"), "claimed anew after the TTL");
  // TTL 0: kept until the size limit makes room
  const forever = new ClaimTable(0, 10);
  forever.claim(keyWords(h(9)).slice(), 9, 1000, Date.now());
  assert.equal(find(forever, h(9)), 9);
});

test("claim table: keys that are not hex hashes are hashed, owners by FNV-1a", () => {
  assert.deepEqual([...keyWords("ab".repeat(32))], [0xabababab, 0xabababab]);
  assert.notDeepEqual([...keyWords("k1")], [...keyWords("k2")]);
  assert.deepEqual([...keyWords("k1")], [...keyWords("k1")]);
  assert.equal(ownerHash(""), 0x811c9dc5);
  assert.notEqual(ownerHash("q:1:0"), ownerHash("q:1:1"));
});
