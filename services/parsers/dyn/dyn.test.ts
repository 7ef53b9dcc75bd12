// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { updatedTime } from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const HEAD = "# format:\n# ip domain uri infected\n#\n# last updated: Tue Mar 15 00:47:49 PDT 2016\n#\n";

test("dyn: each line gives the malware host and the compromised server, timed by the header", async () => {
  const line = "192.0.2.7 infected-a.example.com http://infected-a.example.com/url redirect-a.example.net";
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(HEAD + line + "\n") }] });
  const [m, c] = out.output._default!;
  assert.equal(out.output._default!.length, 2);
  assert.equal(m!["time.source"], "2016-03-15T07:47:49+00:00");
  assert.equal(m!["classification.type"], "malware-distribution");
  assert.equal(m!["source.ip"], "192.0.2.7");
  assert.equal(m!["source.fqdn"], "infected-a.example.com");
  assert.equal(m!["source.url"], "http://infected-a.example.com/url");
  assert.equal(m!["destination.fqdn"], "redirect-a.example.net");
  assert.equal(c!["classification.type"], "system-compromise");
  assert.equal(c!["destination.ip"], "192.0.2.7");
  assert.equal(c!["destination.fqdn"], "infected-a.example.com");
  assert.equal(c!["destination.url"], "http://infected-a.example.com/url");
  assert.equal(c!["source.fqdn"], "redirect-a.example.net");
  assert.equal(Buffer.from(String(c!.raw), "base64").toString(), line);
});

test("dyn: '/' in the IP column leaves the address out; PST is 8 hours behind UTC", async () => {
  assert.equal(updatedTime("# last updated: Tue Jan 05 10:00:00 PST 2016"), "2016-01-05T18:00:00+00:00");
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("/ a.example.com http://a.example.com/x b.example.net") }] });
  const [m, c] = out.output._default!;
  assert.equal(m!["source.ip"], undefined);
  assert.equal(c!["destination.ip"], undefined);
  assert.equal(m!["time.source"], undefined, "no header, no time");
});

test("dyn: a short line is dumped with the reason, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(HEAD + "/ only.example.com\n/ a.example.com http://a.example.com/x b.example.net\n") }] });
  assert.equal(out.output._default!.length, 2);
  assert.equal(out.dumped, 1);
  assert.equal(dumpedRaw(out.dumps[0]!), "/ only.example.com");
  assert.match(dumpReason(out.dumps[0]!), /dyn: 2 columns where IP, domain, URL and infected domain were expected/);
});

test("dyn: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "dyn");
});
