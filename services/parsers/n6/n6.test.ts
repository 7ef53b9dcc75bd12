// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (body: unknown) => ({
  __type: "Report", "feed.name": "n6", "time.observation": "2015-11-17T13:00:00+00:00",
  raw: Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8").toString("base64"),
});
const BOTS = {
  category: "bots", confidence: "high", name: "sality", proto: "tcp", source: "cert-pl.sinkhole", adip: "x.x.111.99",
  time: "2015-11-17T12:17:27.043452Z", dport: 80, sport: 22308, type: "event", id: "d77ae8cf",
  address: [{ cc: "AT", ip: "192.0.2.235", asn: 64496, rdns: "host.example.net" }, { ip: "192.0.2.236" }],
};

test("n6: an event per address and, as IntelMQ, the event without address too; bots take the name as identifier", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(BOTS)] });
  const [a, b, base] = out.output._default!;
  assert.equal(out.output._default!.length, 3);
  assert.equal(a!["source.ip"], "192.0.2.235");
  assert.equal(a!["source.asn"], 64496);
  assert.equal(a!["source.reverse_dns"], "host.example.net");
  assert.equal(a!["source.geolocation.cc"], "AT");
  assert.equal(b!["source.ip"], "192.0.2.236");
  assert.equal(base!["source.ip"], undefined);
  for (const e of [a, b, base]) {
    assert.equal(e!["time.source"], "2015-11-17T12:17:27.043452+00:00");
    assert.equal(e!["malware.name"], "sality");
    assert.equal(e!["classification.taxonomy"], "malicious-code");
    assert.equal(e!["classification.type"], "infected-system");
    assert.equal(e!["classification.identifier"], "sality");
    assert.equal(e!["extra.feed_id"], "d77ae8cf");
    assert.equal(e!["extra.adip"], "x.x.111.99");
    assert.equal(e!["extra.feed_source"], "cert-pl.sinkhole");
    assert.equal(e!["destination.port"], 80);
    assert.equal(e!["source.port"], 22308);
    assert.equal(e!["protocol.transport"], "tcp");
    assert.equal(e!.raw, report(BOTS).raw, "raw is the report's");
  }
});

test("n6: blocklist updates, unknown fqdn, a name beyond printable ASCII, test messages", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    report({ type: "bl-update", category: "cnc", fqdn: "unknown", name: "b\u00f6se", expires: "2015-11-18 12:00:00" }),
    report("TEST MESSAGE 1"),
  ] });
  const [e] = out.output._default!;
  assert.equal(out.output._default!.length, 1, "the test message gives nothing");
  assert.equal(e!["classification.type"], "blacklist");
  assert.equal(e!["classification.taxonomy"], "other");
  assert.equal(e!["source.fqdn"], undefined);
  assert.equal(e!["malware.name"], "bse");
  assert.equal(e!["event_description.text"], "b\u00f6se");
  assert.equal(e!["extra.expires"], "2015-11-18T12:00:00+00:00");
  assert.equal(out.dumped, 0);
});

test("n6: an unknown category or a report that is not JSON is dumped whole with the reason", async () => {
  const body = JSON.stringify({ type: "event", category: "weird" });
  const out = await runBot(bot, { params: HARNESS, input: [report(body), report("not json")] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /n6: unknown n6 category "weird"/);
  assert.equal(dumpedRaw(out.dumps[0]!), body);
  assert.match(dumpReason(out.dumps[1]!), /n6: the report is not JSON/);
  assert.equal(dumpedRaw(out.dumps[1]!), "not json");
});

test("n6: the sample report (fixtures/sample.json) gives its events and dumps nothing", async () => {
  await assertSample(bot, "n6");
});
