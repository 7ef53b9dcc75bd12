// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { CATEGORIES } from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const HEADER = ["# DataPlane.org - for operators, by operators", "#", "# ASN  |  ASname  |  ipaddr  |  lastseen  |  category", "#"];
const report = (feed: string, lines: string[]) => ({
  __type: "Report", "feed.url": `https://dataplane.org/${feed}.txt`, "feed.name": feed,
  "time.observation": "2021-09-01T06:27:26+00:00", raw: b64([...HEADER, ...lines, ""].join("\n")),
});

test("dataplane: one event per data line, comments skipped, category from the last column", async () => {
  const line = "4134         |  CHINANET-BACKBONE No.31,Jin-ro  |   192.0.2.121  |  2016-12-06 02:35:38  |  sshpwauth";
  const out = await runBot(bot, { params: HARNESS, input: [report("sshpwauth", [line])] });
  assert.equal(out.output._default!.length, 1);
  const e = out.output._default![0]!;
  assert.equal(e["source.asn"], 4134);
  assert.equal(e["source.as_name"], "CHINANET-BACKBONE", "only the AS name, not the holder's description");
  assert.equal(e["source.ip"], "192.0.2.121");
  assert.equal(e["time.source"], "2016-12-06T02:35:38+00:00");
  assert.equal(e["classification.type"], "brute-force");
  assert.equal(e["protocol.application"], "ssh");
  assert.equal(e["event_description.text"], CATEGORIES.sshpwauth!.description);
  assert.equal(e["feed.name"], "sshpwauth");
  assert.equal(unb64(e.raw), line, "raw is the line alone, without the header");
  assert.equal(out.dumped, 0);
});

test("dataplane: NA leaves the AS fields out; a single pipe inside the AS description does not split it", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("sipquery", [
    "NA           |  NA                              |  192.0.2.1        |  2016-12-01 04:26:48  |  sipquery",
    "64496        |  EXAMPLE-AS company | With | pipe   |  192.0.2.2        |  2024-04-02 12:00:00  |  sipquery",
  ])] });
  const [na, piped] = out.output._default!;
  assert.equal(na!["source.asn"], undefined);
  assert.equal(na!["source.as_name"], undefined);
  assert.equal(na!["source.ip"], "192.0.2.1");
  assert.equal(piped!["source.asn"], 64496);
  assert.equal(piped!["source.as_name"], "EXAMPLE-AS");
  assert.equal(piped!["classification.type"], "brute-force");
  assert.equal(piped!["protocol.application"], "sip");
});

test("dataplane: proto41 has a first-seen column before the last-seen time", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("proto41", [
    "1            |  LVLT-1                          |  192.0.2.7        |  2021-08-27 05:00:18  |  2021-08-28 05:00:18  |  proto41",
  ])] });
  const e = out.output._default![0]!;
  assert.equal(e["extra.first_seen"], "2021-08-27T05:00:18+00:00");
  assert.equal(e["time.source"], "2021-08-28T05:00:18+00:00");
  assert.equal(e["classification.type"], "proxy");
  assert.equal(e["protocol.application"], "6to4");
});

test("dataplane: a line with the wrong number of columns is dumped with the header, the others go on", async () => {
  const good = "64496        |  EXAMPLE-AS                      |  192.0.2.3        |  2021-08-31 13:52:46  |  smtpdata";
  const bad = "64496        |  EXAMPLE-AS                      |  192.0.2.4  |  smtpdata";
  const out = await runBot(bot, { params: HARNESS, input: [report("smtpdata", [good, bad])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.3"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /line has 4 fields, the "smtpdata" format has 5/);
  assert.equal(dumpedRaw(out.dumps[0]!), [...HEADER, bad].join("\n"));
  assert.equal(unb64(out.output._on_error![0]!.raw), [...HEADER, bad].join("\n"));
});

test("dataplane: an unknown feed in the last column fails the line with its name", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("other", [
    "64496        |  EXAMPLE-AS                      |  192.0.2.5        |  2021-08-31 13:52:46  |  ftplogin",
  ])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /unknown Dataplane feed "ftplogin"/);
  assert.equal(dumpedRaw(out.dumps[0]!), [...HEADER, "64496        |  EXAMPLE-AS                      |  192.0.2.5        |  2021-08-31 13:52:46  |  ftplogin"].join("\n"));
});

test("dataplane: an invalid IP address fails the line", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("vncrfb", [
    "64496        |  EXAMPLE-AS                      |  not-an-ip        |  2021-09-03 10:03:03  |  vncrfb",
  ])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue: invalid value 'not-an-ip' .* for key 'source\.ip'/);
  assert.equal(dumpedRaw(out.dumps[0]!), [...HEADER, "64496        |  EXAMPLE-AS                      |  not-an-ip        |  2021-09-03 10:03:03  |  vncrfb"].join("\n"));
});

test("dataplane: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "dataplane");
});
