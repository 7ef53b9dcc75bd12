// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { taxonomy } from "./index.js";
import { assertSample, loadSample, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const DOMAIN = {
  confidence: "Low", count: 1337, domain: "example.com", first_seen: "2018-12-31 23:00:00 UTC", ip: null,
  last_seen: "2020-06-20 09:00:00 UTC", reason: "Host actively distributes high-severity threat in the form of executable code.",
};

test("eset: the domains feed: reason, classification, domain and last seen", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", "extra.eset_feed": "ei.domains v2 (json)", raw: b64(JSON.stringify([DOMAIN])) }] });
  const [e] = out.output._default!;
  assert.equal(e!["classification.type"], "malware-distribution");
  assert.equal(e!["event_description.text"], DOMAIN.reason);
  assert.equal(e!["source.fqdn"], "example.com");
  assert.equal(e!["source.ip"], undefined);
  assert.equal(e!["time.source"], "2020-06-20T09:00:00+00:00");
  assert.equal(e!["extra.eset_feed"], "ei.domains v2 (json)");
  assert.match(unb64(e!.raw), /^\{"confidence": "Low", "count": 1337, "domain": "example\.com", /);
});

test("eset: the URLs feed adds the URL; an address in domain is no FQDN; C&C reasons", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(sampleText(loadSample("eset"))), "extra.eset_feed": "ei.urls (json)" }] });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.url"], "http://example.com/login");
  assert.equal(a!["classification.type"], "phishing");
  assert.equal(a!["source.ip"], "192.0.2.7");
  assert.equal(b!["classification.type"], "c2-server");
  assert.equal(b!["source.fqdn"], undefined);
  assert.equal(b!["source.ip"], "198.51.100.9");
  assert.equal(taxonomy("Something new"), "other");
});

test("eset: an unknown feed or an entry without reason is dumped with the reason", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    { __type: "Report", "extra.eset_feed": "ei.files (json)", raw: b64(JSON.stringify([DOMAIN])) },
    { __type: "Report", "extra.eset_feed": "ei.domains v2 (json)", raw: b64(JSON.stringify([{ domain: "example.com" }, { ...DOMAIN, ip: "192.0.2.1_NXDOMAIN" }])) },
  ] });
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /eset: unsupported feed "ei\.files \(json\)"/);
  assert.match(dumpReason(out.dumps[1]!), /eset: the entry has no "reason"/);
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.output._default![0]!["source.ip"], undefined, "an _NXDOMAIN address is left out");
});

test("eset: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "eset");
});
