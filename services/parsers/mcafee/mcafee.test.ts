// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ATD = readFileSync(src("services", "parsers", "mcafee", "fixtures", "atd.json"), "utf8");
const report = (text: string) => ({
  __type: "Report", "feed.name": "ATD", "time.observation": "2018-07-06T17:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("mcafee: the sample's hashes, each dropped file, each contacted address and URL; raw is the whole report", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(ATD)] });
  const [subject, file, ip, url] = out.output._default!;
  assert.equal(out.output._default!.length, 4);
  assert.equal(subject!["malware.name"], "sample.exe");
  assert.equal(subject!["malware.hash.sha256"], "DDBBB3C3141024A17E1F20C09C75D8913809062A3D326E2AC81626E65215C430");
  assert.equal(subject!["classification.taxonomy"], "malicious-code");
  assert.equal(subject!["classification.type"], "infected-system");
  assert.equal(unb64(subject!.raw), ATD);
  assert.equal(file!["malware.name"], "dropped.exe");
  assert.equal(file!["malware.hash.md5"], "3B7B97D1714BE4D8F76715F4F990FB68");
  assert.equal(ip!["destination.ip"], "192.0.2.111");
  assert.equal(ip!["destination.port"], 12345);
  assert.equal(ip!["malware.name"], "sample.exe", "an address belongs to the sample");
  assert.equal(url!["destination.fqdn"], "cc.example.com");
});

test("mcafee: a report below verdict_severity gives nothing; a bad entry is dumped with the report, the others go on", async () => {
  const low = await runBot(bot, { params: { ...HARNESS, verdict_severity: 6 }, input: [report(ATD)] });
  assert.equal(low.output._default!.length, 0);
  assert.equal(low.dumped, 0);
  const doc = JSON.parse(ATD) as { Summary: { Ips: unknown[] } };
  doc.Summary.Ips.push({ Ipv4: "not-an-ip" });
  const bad = JSON.stringify(doc);
  const out = await runBot(bot, { params: HARNESS, input: [report(bad)] });
  assert.equal(out.output._default!.length, 4);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /not-an-ip/);
  assert.equal(dumpedRaw(out.dumps[0]!), bad);
});

test("mcafee: a report that is not an ATD report is dumped whole, naming the parser", async () => {
  for (const [text, why] of [["<xml/>", /mcafee: the report is not JSON/], ['{"Summary": {}}', /mcafee: the report has no Summary.Subject object/]] as const) {
    const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
    assert.equal(out.dumped, 1);
    assert.match(dumpReason(out.dumps[0]!), why);
    assert.equal(dumpedRaw(out.dumps[0]!), text);
  }
});

test("mcafee: the sample report (fixtures/sample.json) gives its events and dumps nothing", async () => {
  await assertSample(bot, "mcafee");
});
