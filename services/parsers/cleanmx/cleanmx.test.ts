// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample, sampleReport, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const S = loadSample("cleanmx");
const PHISHING = { ...S.report, "feed.name": "CleanMX Phishing", "feed.url": "http://support.clean-mx.de/clean-mx/xmlphishing?response=alive&domain=" };

test("cleanmx: virus entries: mapped tags, the rest in extra, 'undef' and empty tags left out; raw the entry as ElementTree writes it", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport(S, sampleText(S))] });
  const [a, b] = out.output._default!;
  assert.equal(out.dumped, 0);
  assert.equal(a!["classification.type"], "malware-distribution");
  assert.equal(a!["time.source"], "2017-12-12T22:30:10+00:00");
  assert.equal(a!["malware.hash.md5"], "0123456789abcdef0123456789abcdef");
  assert.equal(a!["malware.name"], "js.agent.example");
  assert.equal(a!["source.url"], "http://malware.example.com/24wer.html");
  assert.equal(a!.status, "online");
  assert.equal(a!["source.ip"], "192.0.2.123");
  assert.equal(a!["source.asn"], 64496);
  assert.equal(a!["source.fqdn"], "example.com");
  assert.equal(a!["source.abuse_contact"], "abuse@example.com");
  assert.equal(a!["extra.id"], "5001");
  assert.equal(a!["extra.source"], "ARIN");
  assert.equal(a!["extra.ns1"], "ns1.example.com");
  assert.equal(a!["extra.ns2"], undefined);
  assert.equal(a!["extra.scanner"], undefined);
  assert.equal(unb64(a!.raw), S.records[0]!.replace("<![CDATA[js.agent.example]]>", "js.agent.example")
    .replace("<![CDATA[http://malware.example.com/24wer.html]]>", "http://malware.example.com/24wer.html").replace("<ns2></ns2>", "<ns2 />") + "\n", "with its tail, as ElementTree");
  assert.equal(b!.status, "offline");
  assert.equal(b!["source.url"], "http://phish.example.net/login.php?cmd=login&id=1");
  assert.match(unb64(b!.raw), /login\.php\?cmd=login&amp;id=1/);
});

test("cleanmx: phishing entries; a domain that is an address is left out", async () => {
  const xml = "<output><entries><entry><id>1</id><first>1513117810</first><target>Example Bank</target><url>http://192.0.2.9/x</url>"
    + "<ip>192.0.2.9</ip><domain>192.0.2.9</domain><source>RIPE</source><phishtank>123</phishtank></entry></entries></output>";
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport({ ...S, report: PHISHING }, xml)] });
  const [e] = out.output._default!;
  assert.equal(e!["classification.type"], "phishing");
  assert.equal(e!["event_description.target"], "Example Bank");
  assert.equal(e!["source.registry"], "RIPE");
  assert.equal(e!["extra.phishtank"], "123");
  assert.equal(e!["source.fqdn"], undefined);
  assert.equal(e!["source.ip"], "192.0.2.9");
});

test("cleanmx: an entry with an unknown tag is dumped alone; no XML is dumped whole, a CSV feed stops the bot", async () => {
  const xml = "<output><entry><id>1</id><url>http://a.example.com/</url></entry><entry><id>2</id><weird>x</weird></entry></output>";
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport(S, xml)] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /cleanmx: unknown tag <weird> in the entry/);
  assert.equal(dumpedRaw(out.dumps[0]!), "<entry><id>2</id><weird>x</weird></entry>");
  const bad = await runBot(bot, { params: HARNESS, input: [sampleReport(S, "<output><entry>")] });
  assert.equal(bad.dumped, 1);
  assert.match(dumpReason(bad.dumps[0]!), /cleanmx: the report is not XML/);
  // a configuration error stops the bot: the report is neither parsed nor dumped
  const csv = await runBot(bot, { params: HARNESS, input: [sampleReport({ ...S, report: { "feed.url": "http://x/xmlviruses?format=csv" } }, "a,b")] });
  assert.equal(csv.dumped, 0);
  assert.equal(csv.output._default!.length, 0);
});

test("cleanmx: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cleanmx");
});
