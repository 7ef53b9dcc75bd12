// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { listType } from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

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
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*'192\.0\.2\.1'.*source\.fqdn/);
  assert.equal(dumpedRaw(out.dumps[0]!), ".192.0.2.1");
});

test("surbl: lines of no known kind in the body are dumped; comments, directives and addresses are skipped", async () => {
  const raw = zone([":x:Blocked, $ on lists [ph], See: x", ".ok.example.com", "# comment", "$TTL 300", "127.0.0.2", "garbage here", ".also.example.com"]);
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["ok.example.com", "also.example.com"]);
  assert.equal(out.dumped, 1);
  assert.equal(Buffer.from(JSON.parse(out.dumps[0]!.message).raw, "base64").toString(), "garbage here");
  assert.match(String(out.dumps[0]!.traceback), /ValueError: surbl: not a zone entry/);
});

test("surbl: a domain line where the header or the last two lines are is still an event", async () => {
  const lines = [".first.example.com", ...HEADER.slice(1), ":x:Blocked, $ on lists [mw], See: x", ".mid.example.com", ".last.example.com", "; end"];
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw: Buffer.from(lines.join("\n")).toString("base64") }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["first.example.com", "mid.example.com", "last.example.com"]);
  assert.equal(out.dumped, 0);
});

test("surbl: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "surbl");
});
