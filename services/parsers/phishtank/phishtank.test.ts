// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (text: string) => ({
  __type: "Report", "feed.name": "PhishTank", "time.observation": "2022-11-16T15:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const ENTRY = {
  phish_id: "7946016", url: "https://phish.example.com/", phish_detail_url: "http://www.phishtank.com/phish_detail.php?phish_id=7946016",
  submission_time: "2022-11-16T14:08:44+00:00", verified: "yes", verification_time: "2022-11-16T14:12:55+00:00", online: "yes",
  details: [{ ip_address: "192.0.2.139", cidr_block: "192.0.2.0/24", announcing_network: "64496", rir: "arin", country: "US" }], target: "Example Bank",
};

test("phishtank: one event per entry, the first detail gives the address, raw is the entry as a JSON list", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(JSON.stringify([ENTRY], null, 2))] });
  const [e] = out.output._default!;
  assert.equal(e!["source.url"], "https://phish.example.com/");
  assert.equal(e!["time.source"], "2022-11-16T14:08:44+00:00");
  assert.equal(e!["extra.phishtank.phish_id"], "7946016");
  assert.equal(e!["event_description.target"], "Example Bank");
  assert.equal(e!["status"], "online");
  assert.equal(e!["source.ip"], "192.0.2.139");
  assert.equal(e!["source.network"], "192.0.2.0/24");
  assert.equal(e!["source.asn"], 64496);
  assert.equal(e!["source.geolocation.cc"], "US");
  assert.equal(e!["classification.type"], "phishing");
  assert.equal(unb64(e!.raw), `[{"phish_id": "7946016", "url": "https://phish.example.com/", ${""
  }"phish_detail_url": "http://www.phishtank.com/phish_detail.php?phish_id=7946016", "submission_time": "2022-11-16T14:08:44+00:00", ${""
  }"verified": "yes", "verification_time": "2022-11-16T14:12:55+00:00", "online": "yes", "details": [{"ip_address": "192.0.2.139", ${""
  }"cidr_block": "192.0.2.0/24", "announcing_network": "64496", "rir": "arin", "country": "US"}], "target": "Example Bank"}]`);
});

test("phishtank: an entry without a valid URL is dumped, the others go on; bad values of optional fields are left out", async () => {
  const bad = { ...ENTRY, url: "not a url", phish_id: "1" };
  const odd = { ...ENTRY, submission_time: "yesterday-ish", details: [{ ip_address: "x", country: "Austria" }] };
  const out = await runBot(bot, { params: HARNESS, input: [report(JSON.stringify([bad, odd]))] });
  assert.equal(out.output._default!.length, 1);
  const e = out.output._default![0]!;
  assert.equal(e["time.source"], undefined);
  assert.equal(e["source.ip"], undefined);
  assert.equal(e["source.geolocation.cc"], undefined);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /not a url/);
  assert.match(dumpedRaw(out.dumps[0]!), /^\[\{"phish_id": "1", /);
});

test("phishtank: a report that is no JSON list is dumped whole, naming the parser", async () => {
  for (const [text, why] of [["<html>maintenance</html>", /phishtank: the report is not JSON/], ['{"a": 1}', /phishtank: the report is not a JSON list but an object/]] as const) {
    const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
    assert.equal(out.dumped, 1);
    assert.match(dumpReason(out.dumps[0]!), why);
    assert.equal(dumpedRaw(out.dumps[0]!), text);
  }
});

test("phishtank: the sample report (fixtures/sample.json) gives an event per entry and dumps nothing", async () => {
  await assertSample(bot, "phishtank");
});
