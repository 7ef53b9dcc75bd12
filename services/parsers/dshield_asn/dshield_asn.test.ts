// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (url: string, lines: string[]) => ({
  __type: "Report", "feed.url": url, raw: b64(["<html>", "# source IP <tab> Reports <tab> Targets", ...lines, "# end", ""].join("\n")),
});

test("dshield_asn: padded addresses, counts in extra, the AS from feed.url", async () => {
  const line = "192.000.002.010\t85\t56\t\t2015-12-22\t2015-12-22 11:09:07";
  const out = await runBot(bot, { params: HARNESS, input: [report("https://dshield.org/asdetailsascii.html?as=64496", [line])] });
  assert.equal(out.output._default!.length, 1, "header, HTML and comment lines give nothing");
  const e = out.output._default![0]!;
  assert.equal(e["source.ip"], "192.0.2.10");
  assert.equal(e["source.asn"], 64496);
  assert.equal(e["classification.type"], "brute-force");
  assert.equal(e["time.source"], "2015-12-22T11:09:07+00:00");
  assert.equal(e["extra.reports"], 85);
  assert.equal(e["extra.targets"], 56);
  assert.equal(e["extra.last_seen"], "2015-12-22");
  assert.equal(unb64(e.raw), line);
});

test("dshield_asn: a line with a broken address is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://dshield.org/asdetailsascii.html?as=64496", [
    "192.000.002.x\t1\t1\t\t2015-12-10\t2015-12-14 12:40:59",
    "192.000.002.011\t1\t1\t\t2015-12-10\t2015-12-14 12:40:59",
  ])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.11"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /source IP "192\.000\.002\.x" is no dotted address/);
  assert.equal(dumpedRaw(out.dumps[0]!), "192.000.002.x\t1\t1\t\t2015-12-10\t2015-12-14 12:40:59");
});

test("dshield_asn: without ?as= in feed.url the lines fail", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://dshield.org/other", ["192.000.002.012\t1\t1\t\t2015-12-10\t2015-12-14 12:40:59"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /AS number is taken from feed\.url/);
  assert.equal(dumpedRaw(out.dumps[0]!), "192.000.002.012\t1\t1\t\t2015-12-10\t2015-12-14 12:40:59");
});

test("dshield_asn: a line that is no record is dumped with the reason; comments and HTML are skipped", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{
    __type: "Report", "feed.url": "https://dshield.org/asdetailsascii.html?as=64496",
    raw: b64(["<!--", "a license note", "-->", "<pre>", "# comment", "192.000.002.010\t85\t56\t\t2015-12-22\t2015-12-22 11:09:07",
      "this is no record", "", "</pre>"].join("\n")),
  }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.10"]);
  assert.equal(out.dumped, 1);
  assert.equal(unb64(JSON.parse(out.dumps[0]!.message).raw), "this is no record");
  assert.match(String(out.dumps[0]!.traceback), /ValueError: dshield_asn: a record has 6 tab-separated columns .* this line 1: "this is no record"/);
});

test("dshield_asn: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "dshield_asn");
});
