// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { isIPv4, parseIPv4 } from "./ip.js";

test("isIPv4() takes exactly what parseIPv4() parses, on random dotted text", () => {
  const pieces = ["0", "1", "9", "00", "01", "10", "99", "100", "199", "249", "250", "255", "256", "300", "1000", ".", ".", "..", " ", "a", "-1", "\n", "٣"];
  let seed = 11;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 16) % n; };
  const cases = ["0.0.0.0", "255.255.255.255", "1.2.3.4\n", "1.2.3", "1.2.3.4.5", "01.2.3.4", ""];
  for (let k = 0; k < 5000; k++) {
    const octets = Array.from({ length: rand(8) ? 4 : 3 + rand(3) }, () => (rand(3) ? String(rand(300)) : pieces[rand(pieces.length)]));
    cases.push(rand(8) ? octets.join(".") : octets.join(""));
  }
  let valid = 0;
  for (const s of cases) {
    assert.equal(isIPv4(s), parseIPv4(s) !== null, JSON.stringify(s));
    if (isIPv4(s)) valid++;
  }
  assert.ok(valid > 100, `${valid} valid addresses among the cases`);
});
