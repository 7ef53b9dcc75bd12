// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const URL = "https://raw.githubusercontent.com/StrangerealIntel/DailyIOC/master/02-12-19/JSON/IOC_x.json";
const report = (text: string, extra: Record<string, unknown> = {}) => ({
  __type: "Report", "feed.name": "DailyIOC", "feed.url": URL, "time.observation": "2019-12-02T00:00:00+00:00",
  raw: Buffer.from(text, "utf8").toString("base64"), ...extra,
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const LIST = JSON.stringify([
  { Indicator: "A7A849895CFB3C24A599ABA4CA4BE666D149E60765F7801C47C18D9D8035E826", Description: "Document" },
  { Indicator: "da39a3ee5e6b4b0d3255bfef95601890afd80709", Description: "sha1" },
  { Indicator: "hack.example.dom", Description: "" },
  { Indicator: "2001:db8::1", Description: "IP C2" },
  { Indicator: "https://192.0.2.2/malicious.docm", Description: "URL" },
  { Indicator: "not an indicator at all", Description: "?" },
], null, 2);

test("github_feed: each IoC by its kind: hashes, domains, addresses, URLs; raw is the IoC in Python's notation", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(LIST, { "extra.file_metadata": { sha: "e3456789", size: 111 } })] });
  const [sha256, sha1, fqdn, ip, url] = out.output._default!;
  assert.equal(out.output._default!.length, 5, "the unknown indicator is skipped");
  assert.equal(sha256!["malware.hash.sha256"], "A7A849895CFB3C24A599ABA4CA4BE666D149E60765F7801C47C18D9D8035E826");
  assert.equal(sha256!["event_description.text"], "Document");
  assert.equal(sha256!["classification.type"], "malware");
  assert.equal(sha256!["classification.taxonomy"], "other");
  assert.equal(sha256!["extra.file_metadata.sha"], "e3456789", "the collector's file metadata");
  assert.equal(sha256!["extra.file_metadata.size"], 111);
  assert.equal(unb64(sha256!.raw), "{'Indicator': 'A7A849895CFB3C24A599ABA4CA4BE666D149E60765F7801C47C18D9D8035E826', 'Description': 'Document'}");
  assert.equal(sha1!["malware.hash.sha1"], "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(fqdn!["source.fqdn"], "hack.example.dom");
  assert.equal(fqdn!["event_description.text"], undefined);
  assert.equal(ip!["source.ip"], "2001:db8::1");
  assert.equal(url!["source.url"], "https://192.0.2.2/malicious.docm");
  assert.equal(out.dumped, 0);
});

test("github_feed: single quotes are read as double quotes; an IoC without Description is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("[{'Indicator': 'c2.example.com', 'Description': 'x'}, {'Indicator': '192.0.2.9'}]")] });
  assert.equal(out.output._default![0]!["source.fqdn"], "c2.example.com");
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /github_feed: the IoC has no Description/);
  assert.equal(dumpedRaw(out.dumps[0]!), "{'Indicator': '192.0.2.9'}");
});

test("github_feed: an unknown feed or a report that is not JSON is dumped whole, naming the parser", async () => {
  const other = await runBot(bot, { params: HARNESS, input: [report(LIST, { "feed.url": "https://raw.githubusercontent.com/Someone/Else/x.json" })] });
  assert.equal(other.dumped, 1);
  assert.match(dumpReason(other.dumps[0]!), /github_feed: unknown feed "https:\/\/raw\.githubusercontent\.com\/Someone\/Else\/x\.json"/);
  const broken = await runBot(bot, { params: HARNESS, input: [report("404: Not Found")] });
  assert.equal(broken.dumped, 1);
  assert.match(dumpReason(broken.dumps[0]!), /github_feed: the report is not JSON/);
  assert.equal(dumpedRaw(broken.dumps[0]!), "404: Not Found");
});

test("github_feed: the sample report (fixtures/sample.json) gives an event per IoC and dumps nothing", async () => {
  await assertSample(bot, "github_feed");
});
