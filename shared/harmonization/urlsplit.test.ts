// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { netlocOf, urlsplit } from "./urlsplit.js";

test("netlocOf() is urlsplit()'s netloc (null where urlsplit fails) on random URL-like text", () => {
  const pieces = ["http", "HTTPS", "svn+ssh", "a.b-c", "1x", ":", "//", "/", "?", "#", "[", "]", "[::1]", "@", "user:pw@", "host", "example.org",
    ":8080", ".", "\t", "\n", "\r", " ", "%20", "ü", "\u0000"];
  let seed = 7;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 16) % n; };
  const cases = ["http://example.org/x", "https://[::1]:443/", "http://[::1/", "http://]x", "//host/p", "ftp:host", "http://a\tb/", "http:/\t/a", ""];
  for (let k = 0; k < 3000; k++) {
    let u = "";
    for (let i = rand(9); i > 0; i--) u += pieces[rand(pieces.length)];
    cases.push(u);
  }
  for (const u of cases) assert.equal(netlocOf(u), urlsplit(u)?.netloc ?? null, JSON.stringify(u));
});
