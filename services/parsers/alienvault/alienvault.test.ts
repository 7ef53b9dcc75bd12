// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };

test("alienvault: address, country, city and coordinates; the activity gives the classification", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("10.0.0.4#3#2#Scanning Host#GB#London#2,3#11\n") }] });
  const [e] = out.output._default!;
  assert.equal(e!["classification.type"], "scanner");
  assert.equal(e!["source.ip"], "10.0.0.4");
  assert.equal(e!["source.geolocation.cc"], "GB");
  assert.equal(e!["source.geolocation.city"], "London");
  assert.equal(e!["source.geolocation.latitude"], 2);
  assert.equal(e!["source.geolocation.longitude"], 3);
  assert.equal(Buffer.from(String(e!.raw), "base64").toString(), "10.0.0.4#3#2#Scanning Host#GB#London#2,3#11");
});

test("alienvault: activities separated by ';' give one event each; unknown ones are undetermined", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("192.0.2.1#4#2#Malware IP;Spamming;Other#DE##0,1#3") }] });
  assert.deepEqual(out.output._default!.map((e) => e["classification.type"]), ["malware-distribution", "spam", "undetermined"]);
  assert.equal(out.output._default![0]!["source.geolocation.city"], undefined);
});

test("alienvault: a line without coordinates or with too few columns is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("192.0.2.1#4#2#Spamming#DE##0,1#3\n192.0.2.2#4#2#Spamming#DE###3\n192.0.2.3#4") }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /alienvault: no "latitude,longitude"/);
  assert.equal(dumpedRaw(out.dumps[0]!), "192.0.2.2#4#2#Spamming#DE###3");
  assert.match(dumpReason(out.dumps[1]!), /alienvault: 2 "#"-separated columns/);
});

test("alienvault: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "alienvault");
});
