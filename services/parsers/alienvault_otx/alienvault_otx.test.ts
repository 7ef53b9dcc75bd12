// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const PULSES = readFileSync(src("services", "parsers", "alienvault_otx", "fixtures", "pulses.json"), "utf8");

test("alienvault_otx: one event per indicator of a known type, with the pulse's details in extra", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", "feed.name": "AlienVault OTX", raw: b64(PULSES) }] });
  const evs = out.output._default!;
  assert.equal(out.dumped, 0);
  assert.equal(evs.length, 9, "the FilePath indicator gives none");
  const [url, sha1, ip, host, domainUrl, uri, cve, cidr, email] = evs;
  assert.equal(url!["source.url"], "http://192.0.2.54/woolen/");
  assert.equal(url!["time.source"], "2015-09-02T09:21:53+00:00");
  assert.equal(url!["classification.type"], "blacklist");
  assert.equal(url!.comment, "Indicators of an example campaign");
  assert.equal(url!.tlp, "GREEN");
  assert.equal(url!["extra.author"], "AlienVault");
  assert.equal(url!["extra.pulse"], "Example pulse");
  assert.equal(url!["extra.pulse_key"], "55e6bfb14637f22cb605746e");
  assert.deepEqual(url!["extra.tags"], ["apt", "example"]);
  assert.deepEqual(url!["extra.industries"], ["finance"]);
  assert.equal(url!["extra.adversary"], "Example Kitten");
  assert.equal(url!["extra.targeted_countries"], undefined, "an empty list of countries is left out");
  assert.equal(url!["extra.time_updated"], "2015-09-02T09:22:22.97+00:00");
  assert.equal(unb64(url!.raw), '{"_id": "1", "created": "2015-09-02T09:21:53.093", "description": "", "indicator": "http://192.0.2.54/woolen/", "type": "URL"}');
  assert.equal(sha1!["malware.hash.sha1"], "af364ff503da71875b6d7c401a1e98e31450a561");
  assert.equal(ip!["source.ip"], "192.0.2.7");
  assert.equal(host!["source.fqdn"], "evil.example.com");
  assert.equal(domainUrl!["source.url"], "http://evil.example.net/path/x", "a domain with a path is a URL");
  assert.equal(uri!["source.urlpath"], "/gate.php");
  assert.equal(cve!["extra.cve"], "CVE-2015-0001");
  assert.equal(cve!["extra.pulse_key"], "other-key");
  assert.equal(cidr!["source.network"], "198.51.100.0/24");
  assert.equal(email!["source.account"], "bad@example.com");
});

test("alienvault_otx: a pulse with a bad indicator is dumped whole (as its own list), the other pulses go on", async () => {
  const good = { id: "a", name: "A", author_name: "x", description: "", indicators: [{ indicator: "192.0.2.1", type: "IPv4", created: "2015-09-02T09:21:53.093" }] };
  const bad = { ...good, id: "b", indicators: [{ indicator: "http://", type: "URL", created: "2015-09-02T09:21:53.093" }] };
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([good, bad, { ...good, name: undefined }])) }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /alienvault_otx: invalid value "http:\/\/" for the URL type/);
  assert.equal(JSON.parse(Buffer.from(JSON.parse(out.dumps[0]!.message).raw, "base64").toString())[0].id, "b");
  assert.match(dumpReason(out.dumps[1]!), /the pulse has no "name"/);
});

test("alienvault_otx: a report that is no JSON list is dumped whole", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64('{"results": []}') }] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /alienvault_otx: the report holds an object where a JSON list was expected/);
});

test("alienvault_otx: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "alienvault_otx");
});
