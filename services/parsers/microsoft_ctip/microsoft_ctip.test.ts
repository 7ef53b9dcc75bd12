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
const fixture = (name: string) => readFileSync(src("services", "parsers", "microsoft_ctip", "fixtures", name), "utf8");
const report = (text: string) => ({
  __type: "Report", "feed.name": "ctip", "feed.accuracy": 100.0, "time.observation": "2020-06-01T00:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("microsoft_ctip: Azure lines: nested info flattened, base64 payload unpacked, confidence scales feed.accuracy", async () => {
  const text = fixture("azure.txt");
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  assert.equal(out.dumped, 0);
  const [a, b, c] = out.output._default!;
  assert.equal(a!["feed.name"], "CTIP-Infected", "DataFeed replaces the report's feed.name");
  assert.equal(a!["feed.accuracy"], 20);
  assert.equal(a!["time.source"], "2020-05-24T22:45:28.487000+00:00");
  assert.equal(a!["malware.name"], "b67-ss-tinba");
  assert.equal(a!["source.asn"], 64496);
  assert.equal(a!["source.geolocation.latitude"], 48.2);
  assert.equal(a!["source.geolocation.city"], undefined, "empty values are left out");
  assert.equal(a!["extra.custom_field1"], "tinba");
  assert.equal(a!["extra.payload.timestamp"], "2020-05-24T22:45:28.487420+00:00");
  assert.equal(a!["extra.payload.server.ip"], "198.51.100.162");
  assert.equal(a!["destination.fqdn"], "c2.example.com");
  assert.equal(a!["protocol.application"], "http");
  assert.equal(a!["tlp"], "AMBER");
  assert.equal(a!["classification.type"], "infected-system");
  assert.equal(unb64(a!.raw), text.split("\n")[0], "raw is the line as it came");
  assert.equal(b!["extra.payload.text"], "this is just some text", "a payload that is no JSON is kept as text");
  assert.equal(b!["tlp"], undefined, "TLP Unknown is left out");
  assert.equal(b!["feed.accuracy"], 100);
  assert.equal(c!["extra.payload.10001"], "my PC name", "a JSON payload's keys");
  assert.equal(c!["extra.payload.10029"], 157);
  assert.equal(c!["extra.http.method"], "POST");
  assert.equal(c!["feed.accuracy"], 50);
});

test("microsoft_ctip: overwrite false keeps the report's feed.name but still recomputes feed.accuracy", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, overwrite: false }, input: [report(fixture("azure.txt"))] });
  const [a] = out.output._default!;
  assert.equal(a!["feed.name"], "ctip");
  assert.equal(a!["feed.accuracy"], 20);
});

test("microsoft_ctip: Interflow list: confidence scales feed.accuracy; IP in the host name, empty metadata, 0.0.0.0 left out", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(fixture("interflow.json"))] });
  const [a, b] = out.output._default!;
  assert.equal(a!["feed.accuracy"], 20);
  assert.equal(a!["destination.ip"], "198.51.100.18", "the doubled address taken once");
  assert.equal(a!["destination.fqdn"], undefined);
  assert.equal(a!["extra.additionalmetadata"], undefined);
  assert.equal(a!["time.source"], "2018-02-06T09:37:02+00:00");
  assert.equal(a!["malware.name"], "b85-r2s");
  assert.equal(a!["tlp"], "GREEN");
  assert.match(unb64(a!.raw), /^\[\{"indicatorthreattype": "Botnet", /);
  assert.equal(b!["destination.ip"], undefined);
  assert.equal(b!["destination.fqdn"], "sink.example.com");
  assert.deepEqual(b!["extra.additionalmetadata"], ["something"]);
  assert.equal(out.dumped, 1, "the indicator of another threat type");
  assert.match(dumpReason(out.dumps[0]!), /microsoft_ctip: unknown indicatorthreattype 'Malware'/);
  assert.match(dumpedRaw(out.dumps[0]!), /^\[\{"indicatorthreattype": "Malware"/);
});

test("microsoft_ctip: a bad Azure line is dumped alone; a report in neither format is dumped whole", async () => {
  const lines = fixture("azure.txt").split("\n");
  const bad = lines[0]!.replace('"ThreatConfidence":"Low"', '"ThreatConfidence":"Very"');
  const out = await runBot(bot, { params: HARNESS, input: [report([bad, lines[1], "{broken"].join("\n"))] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /unknown ThreatConfidence 'Very'/);
  assert.equal(dumpedRaw(out.dumps[0]!), bad);
  assert.match(dumpReason(out.dumps[1]!), /the line is not JSON/);
  const whole = await runBot(bot, { params: HARNESS, input: [report("DataFeed,SourceIp\nx,192.0.2.1\n")] });
  assert.equal(whole.dumped, 1);
  assert.match(dumpReason(whole.dumps[0]!), /microsoft_ctip: the report is neither a JSON list \(Interflow\) nor JSON objects \(Azure\)/);
});

test("microsoft_ctip: the sample report (fixtures/sample.json) gives an event per line and dumps nothing", async () => {
  await assertSample(bot, "microsoft_ctip");
});
