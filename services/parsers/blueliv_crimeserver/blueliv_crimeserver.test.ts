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

test("blueliv_crimeserver: type, URL, address, country, last seen and the rest in extra", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(sampleText(loadSample("blueliv_crimeserver"))) }] });
  const [m, p, t] = out.output._default!;
  assert.equal(m!["classification.type"], "malware-distribution");
  assert.equal(m!["source.url"], "http://malware.example.com/uploads/e.pdf");
  assert.equal(m!["source.ip"], "192.0.2.54");
  assert.equal(m!["source.geolocation.cc"], "US");
  assert.equal(m!["time.source"], "2015-12-09T04:43:29+00:00");
  assert.equal(m!["extra.confidence"], 4);
  assert.equal(m!["extra.status"], "ONLINE");
  assert.equal(m!["extra.time_updated"], "2015-12-09T04:45:53+0000");
  assert.equal(m!["extra.time_first_seen"], "2015-10-20T06:14:00+0000");
  assert.match(unb64(m!.raw), /^\{"confidence": 4, "country": "US", "firstSeenAt": /);
  assert.equal(p!["classification.type"], "phishing");
  assert.equal(t!["classification.type"], "proxy");
  assert.equal(t!["source.tor_node"], true);
  assert.equal(t!["source.url"], undefined, "a Tor node's address in url is no URL");
  assert.equal(t!["source.ip"], "10.0.0.1");
});

test("blueliv_crimeserver: an entry of unknown type or with a bad URL is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([
    { type: "SPAM", ip: "192.0.2.1" }, { type: "PHISHING", url: "http://" }, { type: "C_AND_C", ip: "192.0.2.3" },
  ])) }] });
  assert.deepEqual(out.output._default!.map((e) => e["classification.type"]), ["c2-server"]);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /blueliv_crimeserver: unknown type "SPAM"/);
  assert.equal(dumpedRaw(out.dumps[0]!), '[{"type": "SPAM", "ip": "192.0.2.1"}]');
  assert.match(dumpReason(out.dumps[1]!), /InvalidValue.*source\.url/);
});

test("blueliv_crimeserver: a report that is not JSON is dumped whole", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("[{\"type\": ") }] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /blueliv_crimeserver: the report is not JSON/);
});

test("blueliv_crimeserver: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "blueliv_crimeserver");
});
