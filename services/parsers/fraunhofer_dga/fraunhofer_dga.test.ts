// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };

test("fraunhofer_dga: one c2-server event per domain, the malware named by the generator", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(sampleText(loadSample("fraunhofer_dga"))) }] });
  const evs = out.output._default!;
  assert.deepEqual(evs.map((e) => [e["malware.name"], e["source.fqdn"] ?? e["source.ip"]]), [
    ["bamital", "6c8e2a7e5b6f.example.com"], ["bamital", "a1b2c3d4e5f6.example.net"], ["pykspa", "qwertyuiop.example.org"], ["pykspa", "192.0.2.55"],
  ]);
  assert.equal(evs[3]!["source.ip"], "192.0.2.55");
  assert.ok(evs.every((e) => e["classification.type"] === "c2-server"));
  assert.equal(unb64(evs[0]!.raw), "6c8e2a7e5b6f.example.com");
});

test("fraunhofer_dga: a bad domain or a generator without list is dumped alone; no object, the report", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify({ a_1: ["ok.example.com", "bad..example.com"], b_2: "x" })) }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.equal(dumpedRaw(out.dumps[0]!), "bad..example.com");
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*source\.fqdn/);
  assert.match(dumpReason(out.dumps[1]!), /fraunhofer_dga: the value of "b_2" is a string, not a list of domains/);
  const bad = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("[]") }] });
  assert.match(dumpReason(bad.dumps[0]!), /fraunhofer_dga: the report holds a list where an object of domain lists was expected/);
});

test("fraunhofer_dga: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "fraunhofer_dga");
});
