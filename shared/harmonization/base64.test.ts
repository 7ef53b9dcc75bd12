// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { canonical, canonicalByLoop } from "./base64.js";

test("base64: the native check of long text says what the loop says", () => {
  const valid = randomBytes(3000).toString("base64");
  assert.equal(canonical(valid), true);
  assert.equal(canonical(randomBytes(3001).toString("base64")), true, "one '='");
  assert.equal(canonical(randomBytes(3002).toString("base64")), true, "two '='");
  // one odd character at a random place, of each kind Node's decoder treats on its own
  const odd = ["-", "_", "=", "\n", " ", ".", "\u0141", "\u00e9", "\u0000", "\uffff", "==="];
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let i = 0; i < 400; i++) {
    const o = odd[rand(odd.length)]!;
    const at = rand(valid.length - o.length);
    const s = valid.slice(0, at) + o + valid.slice(at + o.length);
    assert.equal(canonical(s), canonicalByLoop(s), `${JSON.stringify(o)} at ${at}`);
    assert.equal(canonical(s), o === "=" && at >= valid.length - 2, `${JSON.stringify(o)} at ${at}`);
  }
  // longer than a slice (1 Mi characters): a fault in the second slice, a '=' at the border
  const big = randomBytes(3 * (1 << 19)).toString("base64");
  assert.equal(big.length, 2 * (1 << 20));
  assert.equal(canonical(big), true);
  assert.equal(canonical(big.slice(0, -8) + "AB=CDEFG"), false);
  assert.equal(canonical(big.slice(0, (1 << 20) - 1) + "=" + big.slice(1 << 20)), false);
  assert.equal(canonical(big.slice(0, (1 << 20) - 2) + "==" + big.slice(1 << 20)), false);
});
