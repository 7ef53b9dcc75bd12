// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample, loadSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const URL = "https://prod.cyberfeed.net/stream?key=SECRET";
const NEW = readFileSync(src("services", "parsers", "anubisnetworks", "fixtures", "cyberfeed-new.json"), "utf8");
const report = (text: string) => ({ __type: "Report", "feed.url": URL, raw: b64(text) });

test("anubisnetworks: the old format (env, trojanfamily); the API key cut from feed.url; raw the report's", async () => {
  const text = loadSample("anubisnetworks").records[0]!;
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  const [e] = out.output._default!;
  assert.equal(e!["feed.url"], "https://prod.cyberfeed.net/stream");
  assert.equal(e!["classification.type"], "infected-system");
  assert.equal(e!["classification.taxonomy"], "malicious-code");
  assert.equal(e!["event_description.text"], "Sinkhole attempted connection");
  assert.equal(e!["malware.name"], "spyapp");
  assert.equal(e!["source.ip"], "192.0.2.211");
  assert.equal(e!["source.port"], 52888);
  assert.equal(e!["destination.ip"], "192.0.2.212");
  assert.equal(e!["destination.port"], 80);
  assert.equal(e!["destination.fqdn"], "example.net");
  assert.equal(e!["extra.request_method"], "POST");
  assert.equal(e!["time.source"], "2016-04-19T23:15:54+00:00");
  assert.equal(e!["source.geolocation.country"], "Dominican Republic");
  assert.equal(e!.raw, b64(text));
});

test("anubisnetworks: the new format: malware, communication, tracking and the _geo_ objects (else in extra)", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(NEW)] });
  const [e] = out.output._default!;
  assert.equal(out.dumped, 0);
  assert.equal(e!["classification.identifier"], "MalwName");
  assert.equal(e!["malware.name"], "malwname");
  assert.equal(e!["destination.url"], "http://example.com/path");
  assert.equal(e!["destination.urlpath"], "/path");
  assert.equal(e!["extra.communication.type"], "sinkhole");
  assert.deepEqual(e!["extra.communication.x_forwarded_for"], ["10.26.116.22"]);
  assert.equal(e!["extra.tracking.last.ip"], "203.0.113.3");
  assert.equal(e!["extra.first_seen"], 1572960032);
  assert.equal(e!["extra.days_seen"], 154);
  assert.equal(e!["extra.tracking.last.geolocation.dma_code"], 528);
  assert.equal(e!["source.network"], "203.0.113.0/24");
  assert.equal(e!["source.geolocation.city"], "Vienna");
  assert.equal(e!["extra.source.geolocation.postal_code"], "1210", "no such field: under extra");
  assert.equal(e!["source.asn"], 64496);
  assert.equal(e!["extra.tracking.last.network"], "203.0.113.3/24");
  assert.equal(e!["extra.communication.http.host.asn"], 64497);
  assert.equal(e!["extra.communication.http.x_forwarded_for_1.geolocation.city"], "Salzburg");
  assert.deepEqual(e!["extra.metadata.flowbits"], ["_mt_s", "_mt_sa", "_mt_a", "_mt_p"]);
  const off = await runBot(bot, { params: { ...HARNESS, use_malware_familiy_as_classification_identifier: false }, input: [report(NEW)] });
  assert.equal(off.output._default![0]!["classification.identifier"], undefined);
  assert.equal(off.output._default![0]!["extra.malware.family"], undefined, "the family equals the variant");
});

test("anubisnetworks: an unknown data field or no JSON object dumps the report; empty reports and test events give nothing", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    report('{"_ts": 1461107754, "surprise": 1}'), report("[1, 2]"), report("  \n"), report('{"trojanfamily": "TestSinkholingLoss", "_ts": 1461107754}'),
  ] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /anubisnetworks: unable to parse data field surprise/);
  assert.equal(dumpedRaw(out.dumps[0]!), '{"_ts": 1461107754, "surprise": 1}');
  assert.match(dumpReason(out.dumps[1]!), /anubisnetworks: the report holds a list where a Cyberfeed object was expected/);
});

test("anubisnetworks: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "anubisnetworks");
});
