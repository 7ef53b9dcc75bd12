// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";
import { registry } from "../../registry.gen.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const TWEET = readFileSync(src("services", "parsers", "ioc_extractor", "fixtures", "tweet.txt"), "utf8");
const report = (text: string) => ({
  __type: "Report", "feed.name": "Twitter", "time.observation": "2015-09-14T12:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const DEFANGED = { substitutions: " .net;.net;[.];.;,;.", default_scheme: "http" };

test("ioc_extractor: defanged URLs of a tweet, each under a known public suffix; raw is the whole text", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, ...DEFANGED }, input: [report(TWEET)] });
  assert.deepEqual(out.output._default!.map((e) => e["source.url"]), [
    "http://bad-site.com/sales-invoice/", "http://cc.pro/images.html", "http://karlos.net/", "http://block.de.com/malware.exe", "http://ghzz.com/",
  ], "invoice.exe (no such suffix) and the whitelisted t.co are left out");
  for (const e of out.output._default!) {
    assert.equal(e["classification.type"], "blacklist");
    assert.equal(e.raw, report(TWEET).raw);
  }
});

test("ioc_extractor: https by default, the whitelist holds regular expressions, an invalid type becomes unknown", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, domain_whitelist: "example\\.org$,t\\.co", classification_type: "nonsense" },
    input: [report("evil.example.com/x and good.example.org plus www.example.org/ok")] });
  assert.deepEqual(out.output._default!.map((e) => e["source.url"]), ["https://evil.example.com/x", "https://www.example.org/ok"]);
  // "unknown", which the harmonization takes for its new name "undetermined"
  assert.equal(out.output._default![0]!["classification.type"], "undetermined");
});

test("ioc_extractor: an odd number of substitution parts is refused; a text without URL gives nothing", async () => {
  await assert.rejects(runBot(bot, { params: { ...HARNESS, substitutions: "a;b;c" }, input: [] }), /substitutions/);
  const out = await runBot(bot, { params: HARNESS, input: [report("nothing to see here")] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 0);
});

test("ioc_extractor: answers to IntelMQ's old name too (intelmq.bots.parsers.twitter.parser)", async () => {
  assert.equal(await registry["intelmq.bots.parsers.twitter.parser"]!(), bot);
  assert.equal(await registry["intelmq.bots.parsers.ioc_extractor.parser"]!(), bot);
});

test("ioc_extractor: a URL the event does not take is dumped with the text", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("x.example.com:99999/a fine.example.com")] });
  assert.deepEqual(out.output._default!.map((e) => e["source.url"]), ["https://fine.example.com/"]);
  if (out.dumped) assert.match(dumpReason(out.dumps[0]!), /99999/);
});

test("ioc_extractor: the sample report (fixtures/sample.json) gives its event and dumps nothing", async () => {
  await assertSample(bot, "ioc_extractor");
});
