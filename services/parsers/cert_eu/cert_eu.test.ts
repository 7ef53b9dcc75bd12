// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample, sampleReport, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const S = loadSample("cert_eu");
const HEADER = S.head[0]!;
const run = (records: string[]) => runBot(bot, { params: HARNESS, input: [sampleReport(S, sampleText(S, records))] });

test("cert_eu: the named columns go to their fields; confidence scales feed.accuracy; raw is header and record", async () => {
  const out = await run(S.records);
  const [a, b] = out.output._default!;
  assert.equal(out.dumped, 0);
  assert.equal(a!["extra.datasource"], "RI");
  assert.equal(a!["source.ip"], "192.0.2.10");
  assert.equal(a!["extra.cert_eu_time_observation"], "2019-04-01T10:13:23+00:00");
  assert.equal(a!.tlp, "AMBER");
  assert.equal(a!["classification.type"], "malware-distribution");
  assert.equal(a!["time.source"], "2019-04-01T03:13:20+00:00");
  assert.equal(a!["source.geolocation.geoip_cc"], "AT");
  assert.equal(a!["source.geolocation.latitude"], 48.3);
  assert.equal(a!["extra.source.geolocation.geohash"], "u2d4v1fv47xd");
  assert.equal(a!["extra.first_seen"], "2019-04-01 03:13:20Z");
  assert.equal(a!["extra.expiration_date"], "2019-05-01 09:27:55Z");
  assert.equal(a!["feed.accuracy"], 25.5);
  assert.equal(a!["source.asn"], 64496);
  assert.equal(a!["source.as_name"], "EXAMPLE, AT");
  assert.equal(a!["source.url"], "http://malware.example.com/");
  assert.equal(unb64(a!.raw), `${HEADER}\n${S.records[0]}`);
  assert.equal(b!["classification.type"], "phishing");
  assert.equal(b!["source.fqdn"], "phish.example.com");
  assert.equal(b!["event_description.target"], "Other");
  assert.equal(b!["extra.count"], 3);
});

test("cert_eu: an unknown version, a value in an unmapped column or a short record is dumped with header and record", async () => {
  const quoted = S.records[1]!.replace(",Other,", ',"Other",');
  const v2 = S.records[0]!.replace(",1.5,", ",2.0,");
  const ns = S.records[1]!.replace(/,,,,,,$/, ",ns1.example.com,,,,,");
  const out = await run([v2, quoted, ns, "RI,192.0.2.99"]);
  assert.equal(out.output._default!.length, 1);
  assert.equal(unb64(out.output._default![0]!.raw), `${HEADER}\n${S.records[1]}`, "an event's raw is written anew");
  assert.equal(out.dumped, 3);
  assert.match(dumpReason(out.dumps[0]!), /cert_eu: unknown version "2\.0"/);
  assert.equal(dumpedRaw(out.dumps[0]!), `${HEADER}\n${v2}`);
  assert.match(dumpReason(out.dumps[1]!), /cert_eu: unable to parse the column "ns1"/);
  assert.match(dumpReason(out.dumps[2]!), /cert_eu: unknown version "None"/);
  assert.equal(dumpedRaw(out.dumps[2]!), `${HEADER}\nRI,192.0.2.99`, "a failed record is dumped as the report has it");
});

test("cert_eu: CRLF reports keep their line ending in raw; '#' lines are left out", async () => {
  const text = `# comment\r\n${HEADER}\r\n${S.records[1]}\r\n`;
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport(S, text)] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(unb64(out.output._default![0]!.raw), `${HEADER}\r\n${S.records[1]}`);
});

test("cert_eu: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cert_eu");
});
