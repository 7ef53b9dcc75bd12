// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { genericSanitize } from "./generic.js";
import { fqdnSanitize, fqdnSanitizeText, fqdnValid, fqdnValidScan } from "./network.js";

test("plain names sanitize and validate as the full FQDN steps do, on random name-like text", () => {
  const pieces = ["a", "z", "example", "xn--bcher-kva", "0", "9", "10", "255", "-", "_", ".", ".", "..", "A", "Q", ":", "/", "?", "#", " ", "\t", "\x7f", "ä", "b\u00fccher", "\u3002", "x".repeat(63), "y".repeat(64)];
  let seed = 7;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 16) % n; };
  const cases = ["example.com", "1.2.3.4", "0.0.0.0", "1.2.3.4.com", "a..b", ".a", "a.", "-a.b_c", "EXAMPLE.com", "host:80", "a/b", ""];
  for (let k = 0; k < 5000; k++) {
    const labels = Array.from({ length: 1 + rand(4) }, () => Array.from({ length: 1 + rand(3) }, () => pieces[rand(pieces.length)]).join(""));
    cases.push(labels.join(rand(6) ? "." : ""));
  }
  let plain = 0;
  for (const s of cases) {
    const g = genericSanitize(s);
    const expected = typeof g === "string" ? fqdnSanitizeText(g) : null;
    const got = fqdnSanitize(s);
    assert.equal(got, expected, `sanitize ${JSON.stringify(s)}`);
    // is_valid() right after sanitize() (where the last plain name is known), and of the raw text
    if (got !== null) assert.equal(fqdnValid(got), fqdnValidScan(got), `is_valid of sanitized ${JSON.stringify(got)}`);
    assert.equal(fqdnValid(s), s !== "" && fqdnValidScan(s), `is_valid ${JSON.stringify(s)}`);
    if (got === s && fqdnValidScan(s)) plain++;
  }
  assert.ok(plain > 300, `${plain} names already sanitized and valid among the cases`);
});
