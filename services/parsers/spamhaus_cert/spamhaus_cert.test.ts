// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const HEADER = "; ip, asn, country, lastseen, botname, domain, remote_ip, remote_port, local_port, protocol";
const report = (lines: string[]) => ({
  __type: "Report", "feed.url": "https://portal.spamhaus.org/cert/api.php?cert=x&key=SECRET", raw: b64([HEADER, ...lines, "; EOF"].join("\n")),
});

test("spamhaus_cert: malware lines, the API key cut from feed.url, raw with the header", async () => {
  const line = "192.0.2.1,AS64496,AT,1441008351,patcher,c2.example.com,198.51.100.1,80,1036,tcp";
  const out = await runBot(bot, { params: HARNESS, input: [report([line])] });
  const e = out.output._default![0]!;
  assert.equal(e["feed.url"], "https://portal.spamhaus.org/cert/api.php?cert=x&");
  assert.equal(e["source.ip"], "192.0.2.1");
  assert.equal(e["source.asn"], 64496);
  assert.equal(e["time.source"], "2015-08-31T08:05:51+00:00");
  assert.equal(e["malware.name"], "patcher");
  assert.equal(e["classification.type"], "infected-system");
  assert.equal(e["destination.fqdn"], "c2.example.com");
  assert.equal(e["destination.ip"], "198.51.100.1");
  assert.equal(e["destination.port"], 80);
  assert.equal(e["extra.source.local_port"], 1036);
  assert.equal(unb64(e.raw), `${HEADER}\n${line}`);
});

test("spamhaus_cert: named bot types are classified, iot telnet scans by port", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([
    "192.0.2.2,AS64496,AT,1521552552,sshauth,,198.51.100.2,22,,tcp",
    "192.0.2.3,AS64496,AT,1506696497,iotscan,-,198.51.100.3,2323,57090,tcp",
    "192.0.2.4,AS64496,AT,1570955975,misc,,,25,,tcp",
  ])] });
  const [ssh, iot, misc] = out.output._default!;
  assert.equal(ssh!["classification.type"], "brute-force");
  assert.equal(ssh!["protocol.application"], "ssh");
  assert.equal(iot!["classification.identifier"], "telnet");
  assert.equal(iot!["classification.type"], "scanner");
  assert.equal(misc!["classification.identifier"], "spam");
  assert.equal(misc!["protocol.application"], "smtp");
  assert.equal(misc!["feed.documentation"], "https://www.abuseat.org/lookup.cgi");
});

test("spamhaus_cert: a line with too few fields or a bad timestamp is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([
    "192.0.2.5,AS64496,AT,1441008970,asprox",
    "192.0.2.6,AS64496,AT,yesterday,asprox,,,25,,tcp",
    "192.0.2.7,AS64496,AT,1441008970,asprox,,,25,,tcp",
  ])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.7"]);
  assert.equal(out.dumped, 2);
  const tracebacks = out.dumps.map((d) => String(d.traceback)).join("\n");
  assert.match(tracebacks, /line has 5 fields, the feed has 10/);
  assert.match(tracebacks, /lastseen "yesterday" is no timestamp/);
  // Failed lines are recovered once the report is read, as IntelMQ does: every comment line is in front.
  assert.deepEqual(out.dumps.map((d) => [dumpReason(d).match(/line has 5 fields|is no timestamp/)?.[0], dumpedRaw(d)]), [
    ["line has 5 fields", [HEADER, "; EOF", "192.0.2.5,AS64496,AT,1441008970,asprox"].join("\n")],
    ["is no timestamp", [HEADER, "; EOF", "192.0.2.6,AS64496,AT,yesterday,asprox,,,25,,tcp"].join("\n")],
  ]);
});

test("spamhaus_cert: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "spamhaus_cert");
});
