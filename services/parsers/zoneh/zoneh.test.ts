// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (text: string) => ({
  __type: "Report", "feed.name": "ZoneH Defacements", "time.observation": "2017-06-14T00:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HEADER = '"add_date","attacker","domain","ip_address","system","web_server","reason","hackmode","defacement_id","country_code"';

test("zoneh: a defacement per record: URL, host, address, country, actor and method; raw is the header and the record", async () => {
  const rec = '"2017-06-13 08:12:48","xyz crew","https://www.example.com:8443/defaced.html","192.0.2.1","Linux","Apache","fun","SQL Injection","29715024","au"';
  const out = await runBot(bot, { params: HARNESS, input: [report(`${HEADER}\n${rec}\n${rec.replace("192.0.2.1", "n/a")}\n`)] });
  const [e, f] = out.output._default!;
  assert.equal(e!["time.source"], "2017-06-13T08:12:48+00:00");
  assert.equal(e!["source.url"], "https://www.example.com:8443/defaced.html");
  assert.equal(e!["source.fqdn"], undefined, "host:port is no FQDN, left out as in IntelMQ");
  assert.equal(e!["protocol.application"], "https");
  assert.equal(e!["source.ip"], "192.0.2.1");
  assert.equal(e!["source.geolocation.cc"], "AU");
  assert.equal(e!["classification.identifier"], "compromised-website");
  assert.equal(e!["classification.type"], "unauthorised-information-modification");
  assert.equal(e!["event_description.text"], "defacement");
  assert.equal(e!["extra.actor"], "xyz crew");
  assert.equal(e!["extra.compromise_method"], "SQL Injection");
  assert.equal(e!["extra.zoneh_report_id"], "29715024");
  assert.equal(e!["extra.accepted_date"], undefined, "a pending defacement has no accept date");
  assert.equal(unb64(e!.raw), `${HEADER}\n${rec}\n`);
  assert.equal(f!["source.ip"], undefined, "an invalid address is left out");
});

test("zoneh: a record with a bad date or too few fields is dumped, the others go on", async () => {
  const good = '"2017-06-13 08:12:48","a","http://x.example.com/","192.0.2.1","Linux","Apache","r","m","1","at"';
  const out = await runBot(bot, { params: HARNESS, input: [report(`${HEADER}\n"yesterday","a","http://y.example.com/","192.0.2.2","L","A","r","m","2","at"\n"2017-06-13 08:12:48","a"\n${good}`)] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /yesterday/);
  assert.equal(dumpedRaw(out.dumps[0]!), `${HEADER}\n"yesterday","a","http://y.example.com/","192.0.2.2","L","A","r","m","2","at"\n`);
  assert.match(dumpReason(out.dumps[1]!), /zoneh: the record has no value for domain/);
});

test("zoneh: a report whose header lacks Zone-H's columns is dumped whole, naming the parser", async () => {
  const text = "Address,Tags\n192.0.2.1,http\n";
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /zoneh: the header row "Address,Tags" lacks the column\(s\) add_date, domain, ip_address/);
  assert.equal(dumpedRaw(out.dumps[0]!), text);
});

test("zoneh: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "zoneh");
});
