// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/runtime/index.js";
import bot, { listType } from "./index.js";

const HEADER = Array.from({ length: 9 }, (_, i) => `; header ${i}`);
const zone = (lines: string[]) => Buffer.from([...HEADER, ...lines, "", "; end"].join("\n") + "\n").toString("base64");

test("listType: mw before ph, anything else a blacklist", () => {
  assert.equal(listType(":127.0.0.128:Blocked, $ on lists [ph][mw], See: http://www.surbl.org/lists.html"), "malware-distribution");
  assert.equal(listType(":127.0.0.128:Blocked, $ on lists [ph], See: http://www.surbl.org/lists.html"), "phishing");
  assert.equal(listType(":127.0.0.128:Blocked, $ on lists [abuse][cr], See: http://www.surbl.org/lists.html"), "blacklist");
});

test("surbl: domains under each list line, other lines and the header skipped", async () => {
  const raw = zone([
    ":127.0.0.128:Blocked, $ on lists [mw], See: http://www.surbl.org/lists.html",
    ".bad.example.com",
    ".worse.example.net",
    "0.0.0.0",
    ":127.0.0.128:Blocked, $ on lists [ph], See: http://www.surbl.org/lists.html",
    ".phish.example.org",
  ]);
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", "feed.name": "SURBL", raw }] });
  assert.deepEqual(out.output._default!.map((e) => [e["source.fqdn"], e["classification.type"], e["feed.name"]]), [
    ["bad.example.com", "malware-distribution", "SURBL"],
    ["worse.example.net", "malware-distribution", "SURBL"],
    ["phish.example.org", "phishing", "SURBL"],
  ]);
});

test("surbl: a name that is no domain (an address) is dumped, the others go on", async () => {
  const raw = zone([":x:Blocked, $ on lists [cr], See: x", ".ok.example.com", ".192.0.2.1"]);
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
});
