// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const MESSAGE = loadSample("calidog_certstream").records[0]!;

test("calidog_certstream: one event per domain of the leaf certificate, raw the whole message", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", "feed.name": "CertStream", raw: b64(MESSAGE) }] });
  const evs = out.output._default!;
  assert.deepEqual(evs.map((e) => e["source.fqdn"] ?? e["source.ip"]), ["example.com", "mail.example.com", "192.0.2.5"]);
  assert.equal(evs[2]!["source.ip"], "192.0.2.5", "an address is no FQDN");
  assert.ok(evs.every((e) => e["time.source"] === "2018-06-15T16:10:21+00:00" && e["classification.type"] === "other"));
  assert.equal(unb64(evs[0]!.raw), MESSAGE);
});

test("calidog_certstream: a domain that is neither FQDN nor address is dumped alone", async () => {
  const msg = JSON.parse(MESSAGE);
  msg.data.leaf_cert.all_domains = ["bad..example.com", "ok.example.com"];
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify(msg)) }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["ok.example.com"]);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*bad\.\.example\.com.*source\.ip/);
  assert.equal(dumpedRaw(out.dumps[0]!), JSON.stringify(msg));
});

test("calidog_certstream: a message without data (a heartbeat) or no JSON is dumped whole; one without domains gives nothing", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    { __type: "Report", raw: b64('{"message_type": "heartbeat", "timestamp": 1529079021.1}') },
    { __type: "Report", raw: b64("garbage") },
    { __type: "Report", raw: b64('{"message_type": "certificate_update", "data": {"seen": 1}}') },
  ] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /calidog_certstream: the report holds an object without "data"/);
  assert.match(dumpReason(out.dumps[1]!), /calidog_certstream: the report is not JSON/);
});

test("calidog_certstream: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "calidog_certstream");
});
