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

test("cznic_haas: a session with login is a compromise, without a brute-force attempt counted once", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(sampleText(loadSample("cznic_haas"))) }] });
  const [a, b, c] = out.output._default!;
  assert.equal(a!["source.ip"], "192.0.2.83");
  assert.equal(a!["time.source"], "2020-06-29T00:00:00.901916+00:00");
  assert.equal(a!["protocol.transport"], "tcp");
  assert.equal(a!["protocol.application"], "ssh");
  assert.equal(a!["destination.port"], 22);
  assert.deepEqual(a!["extra.commands"], ["sudo echo $UID"]);
  assert.equal(a!["extra.time_closed"], "2020-06-29T00:00:01.418213+00:00");
  assert.equal(a!["source.geolocation.cc"], "NL");
  assert.equal(a!["classification.type"], "system-compromise");
  assert.equal(a!["extra.count"], undefined);
  assert.equal(b!["classification.type"], "brute-force");
  assert.equal(b!["extra.count"], 1);
  assert.equal(c!["classification.type"], "system-compromise");
  assert.equal(c!["source.geolocation.cc"], undefined);
  assert.equal(unb64(a!.raw), '[{"time": "2020-06-29T00:00:00.901916+00:00", "ip": "192.0.2.83", "country": "NL", "login_successful": true, '
    + '"commands": ["sudo echo $UID"], "time_closed": "2020-06-29T00:00:01.418213+00:00"}]');
});

test("cznic_haas: a session without a key or with a bad time is dumped alone; no JSON list, the report", async () => {
  const ok = { time: "2020-06-29T00:00:00+00:00", ip: "192.0.2.1", country: "CZ", login_successful: false, commands: [] };
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([ok, { ...ok, time: "when?" }, { ip: "192.0.2.2" }])) }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /cznic_haas: the session's time "when\?" is unreadable/);
  assert.equal(JSON.parse(dumpedRaw(out.dumps[0]!))[0].time, "when?");
  assert.match(dumpReason(out.dumps[1]!), /cznic_haas: the session has no "time"/);
  const bad = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("{}") }] });
  assert.match(dumpReason(bad.dumps[0]!), /cznic_haas: the report holds an object where a JSON list was expected/);
});

test("cznic_haas: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cznic_haas");
});
