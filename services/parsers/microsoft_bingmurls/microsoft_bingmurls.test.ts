// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (items: unknown) => ({
  __type: "Report", "feed.name": "BingMURLs", "time.observation": "2018-06-01T00:00:00+00:00",
  raw: Buffer.from(typeof items === "string" ? items : JSON.stringify(items, null, 2), "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const ITEM = {
  Url: "http://01.example.com/foobar.html", Version: 1.5, Attributable: true, Description: "Website has been identified as malicious by Bing",
  FirstReportedDateTime: "2018-05-28T07:00:00Z", LastReportedDateTime: "2018-05-28T07:00:00Z", IndicatorExpirationDateTime: "2018-06-28T10:49:29Z",
  IndicatorProvider: "Bing", IndicatorThreatType: "MaliciousUrl", NetworkDestinationAsn: 64496, NetworkDestinationIPv4: "192.0.2.48",
  NetworkDestinationPort: 80, Tags: ["at"], TLPLevel: "Amber",
};

test("microsoft_bingmurls: an indicator's keys mapped to fields, the single tag is the country, raw has sorted keys", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([ITEM])] });
  const [e] = out.output._default!;
  assert.equal(e!["source.url"], "http://01.example.com/foobar.html");
  assert.equal(e!["source.ip"], "192.0.2.48");
  assert.equal(e!["source.asn"], 64496);
  assert.equal(e!["source.port"], 80);
  assert.equal(e!["source.geolocation.cc"], "AT");
  assert.equal(e!["time.source"], "2018-05-28T07:00:00+00:00");
  assert.equal(e!["tlp"], "AMBER");
  assert.equal(e!["classification.identifier"], "MaliciousUrl");
  assert.equal(e!["classification.type"], "blacklist");
  assert.equal(e!["extra.attributable"], true);
  assert.equal(e!["extra.indicator_expiration_date_time"], "2018-06-28T10:49:29Z");
  assert.match(unb64(e!.raw), /^\[\{"Attributable": true, "Description": .*"Version": 1\.5\}\]$/);
});

test("microsoft_bingmurls: placeholder address, AS 0 and tag ?? are left out; several tags go to extra.tags", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([
    { ...ITEM, NetworkDestinationIPv4: "0.0.0.0", NetworkDestinationAsn: 0, Tags: ["??"] },
    { ...ITEM, NetworkDestinationIPv4: "255.255.255.255", Tags: ["at", "de"] },
  ])] });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.ip"], undefined);
  assert.equal(a!["source.asn"], undefined);
  assert.equal(a!["source.geolocation.cc"], undefined);
  assert.equal(b!["source.ip"], undefined);
  assert.deepEqual(b!["extra.tags"], ["at", "de"]);
});

test("microsoft_bingmurls: another version, threat type or differing last-reported time fails that indicator only", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([
    { ...ITEM, Version: 1.4 }, { ...ITEM, IndicatorThreatType: "Botnet" }, { ...ITEM, LastReportedDateTime: "2018-05-29T07:00:00Z" }, ITEM,
  ])] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 3);
  assert.match(dumpReason(out.dumps[0]!), /microsoft_bingmurls: unknown format version 1\.4/);
  assert.match(dumpReason(out.dumps[1]!), /unknown IndicatorThreatType 'Botnet'/);
  assert.match(dumpReason(out.dumps[2]!), /differ/);
  assert.match(dumpedRaw(out.dumps[0]!), /^\[\{"Attributable": true,.*"Version": 1\.4\}\]$/);
});

test("microsoft_bingmurls: a report that is no JSON list is dumped whole, naming the parser", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("Service Unavailable")] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /microsoft_bingmurls: the report is not JSON/);
  assert.equal(dumpedRaw(out.dumps[0]!), "Service Unavailable");
});

test("microsoft_bingmurls: the sample report (fixtures/sample.json) gives an event per indicator and dumps nothing", async () => {
  await assertSample(bot, "microsoft_bingmurls");
});
