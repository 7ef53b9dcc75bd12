// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (text: string) => ({
  __type: "Report", "feed.name": "OpenPhish Commercial", "time.observation": "2022-03-22T06:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("openphish_commercial: one event per line with network, brand and kit fields; raw is the object in a JSON list", async () => {
  const line = '{"url": "https://login.example.org/x/", "ip": "192.0.2.250", "brand": "Example Bank", "isotime": "2022-03-22T04:58:50Z", '
    + '"asn_name": "Example Hosting, Inc.", "emails": ["a@example.com", "b@example.com"], "host": "login.example.org", '
    + '"ssl_cert_serial": "E2E81AF3", "country_code": "SG", "tld": "org", "country_name": "Singapore", "phishing_kit": null, "asn": "AS64496", "screenshot": "ftp is no url"}';
  const out = await runBot(bot, { params: HARNESS, input: [report(line + "\n")] });
  const [e] = out.output._default!;
  assert.equal(e!["source.url"], "https://login.example.org/x/");
  assert.equal(e!["source.ip"], "192.0.2.250");
  assert.equal(e!["source.asn"], 64496);
  assert.equal(e!["source.fqdn"], "login.example.org");
  assert.equal(e!["time.source"], "2022-03-22T04:58:50+00:00");
  assert.equal(e!["source.geolocation.cc"], "SG");
  assert.deepEqual(e!["extra.emails"], ["a@example.com", "b@example.com"]);
  assert.equal(e!["extra.tld"], "org");
  assert.equal(e!["extra.phishing_kit"], undefined, "null is no value");
  assert.equal(e!["screenshot_url"], undefined, "an invalid screenshot URL is left out");
  assert.equal(e!["classification.type"], "phishing");
  assert.equal(unb64(e!.raw), `[${line}]`);
});

test("openphish_commercial: discover_time when there is no isotime; a host that is an IP address is no FQDN", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report('{"url": "http://192.0.2.1/a", "ip": "192.0.2.1", "host": "192.0.2.1", "discover_time": "22-03-2022 05:06:25 UTC", "asn": "ASX"}')] });
  const [e] = out.output._default!;
  assert.equal(e!["time.source"], "2022-03-22T05:06:25+00:00");
  assert.equal(e!["source.fqdn"], undefined);
  assert.equal(e!["source.asn"], undefined);
});

test("openphish_commercial: a line that is not JSON or has no valid URL is dumped alone, the others go on", async () => {
  const good = '{"url": "http://phish.example.com/", "ip": "192.0.2.2"}';
  const out = await runBot(bot, { params: HARNESS, input: [report(['{"url": "http://a.example.com/"', good, '{"url": "no url"}'].join("\n"))] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /openphish_commercial: the line is not JSON/);
  assert.equal(dumpedRaw(out.dumps[0]!), '{"url": "http://a.example.com/"');
  assert.match(dumpReason(out.dumps[1]!), /no url/);
  assert.equal(dumpedRaw(out.dumps[1]!), '{"url": "no url"}');
});

test("openphish_commercial: a report that does not start with a JSON object is dumped whole, naming the parser", async () => {
  const text = "<html>\n<body>Forbidden</body>\n</html>\n";
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /openphish_commercial: the report is not JSON objects, one per line; it starts with "<html>"/);
  assert.equal(dumpedRaw(out.dumps[0]!), text);
});

test("openphish_commercial: the sample report (fixtures/sample.json) gives an event per line and dumps nothing", async () => {
  await assertSample(bot, "openphish_commercial");
});
