// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };

test("cznic_proki: keys are fields; the source's feed name and observation time go to extra; raw keeps floats", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", "feed.name": "PROKI", raw: b64(sampleText(loadSample("cznic_proki"))) }] });
  const [a, b] = out.output._default!;
  assert.equal(a!["malware.name"], "conficker");
  assert.equal(a!["feed.name"], "PROKI");
  assert.equal(a!["extra.original_feed_name"], "spamhaus-cert");
  assert.equal(a!["extra.original_time_observation"], "2020-08-12T14:42:42+00:00");
  assert.equal(a!["classification.taxonomy"], "malicious-code");
  assert.equal(a!["source.geolocation.latitude"], 0);
  assert.match(unb64(a!.raw), /^\[\{"malware\.name": "conficker", "destination\.port": 80, .*"source\.geolocation\.latitude": 0\.0, /);
  assert.equal(b!["source.asn"], 64501);
});

test("cznic_proki: a bare list is taken; an event with an unknown field is dumped alone; other documents whole", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([
    { "source.ip": "192.0.2.1", "classification.type": "scanner" }, { "source.ip": "192.0.2.2", "no.such.field": 1 },
  ])) }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidKey.*no\.such\.field/);
  const bad = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64('{"status": "error"}') }] });
  assert.equal(bad.dumped, 1);
  assert.match(dumpReason(bad.dumps[0]!), /cznic_proki: the report holds an object where a JSON list \(or an object with "data"\) was expected/);
});

test("cznic_proki: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cznic_proki");
});
