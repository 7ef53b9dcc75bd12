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
const ENTRY = {
  ip_address: "192.0.2.32", port: 4643, status: "online", hostname: "srv-web.example.com", as_number: 64496, as_name: "OVH",
  country: "FR", first_seen: "2021-01-17 07:44:46", last_online: "2022-11-15", malware: "Dridex",
};

test("abusech_feodotracker: one c2-server event per entry, raw the entry alone in a list", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([ENTRY], null, 4)) }] });
  const [e] = out.output._default!;
  assert.equal(e!["time.source"], "2021-01-17T07:44:46+00:00");
  assert.equal(e!["classification.type"], "c2-server");
  assert.equal(e!["source.ip"], "192.0.2.32");
  assert.equal(e!["source.port"], 4643);
  assert.equal(e!["source.asn"], 64496);
  assert.equal(e!["source.as_name"], "OVH");
  assert.equal(e!["source.geolocation.cc"], "FR");
  assert.equal(e!["source.reverse_dns"], "srv-web.example.com");
  assert.equal(e!["malware.name"], "dridex");
  assert.equal(e!["extra.last_online"], "2022-11-15");
  assert.equal(e!.status, "online");
  assert.equal(unb64(e!.raw), '[{"ip_address": "192.0.2.32", "port": 4643, "status": "online", "hostname": "srv-web.example.com", '
    + '"as_number": 64496, "as_name": "OVH", "country": "FR", "first_seen": "2021-01-17 07:44:46", "last_online": "2022-11-15", "malware": "Dridex"}]');
});

test("abusech_feodotracker: without first_seen the time is midnight of last_online; an unreadable time is left out", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([
    { ...ENTRY, first_seen: null }, { ...ENTRY, ip_address: "192.0.2.33", first_seen: "yesterday" }, { ...ENTRY, ip_address: "192.0.2.34", as_number: "not a number" },
  ])) }] });
  const [a, b, c] = out.output._default!;
  assert.equal(a!["time.source"], "2022-11-15T00:00:00+00:00");
  assert.equal(b!["time.source"], undefined);
  assert.equal(c!["source.asn"], undefined, "a bad optional value is left out");
});

test("abusech_feodotracker: a bad entry is dumped alone; a report that is no JSON list is dumped whole", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(JSON.stringify([ENTRY, { ...ENTRY, ip_address: "nope" }, 7])) }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*'nope'.*source\.ip/);
  assert.equal(JSON.parse(dumpedRaw(out.dumps[0]!))[0].ip_address, "nope");
  assert.match(dumpReason(out.dumps[1]!), /a number in the list where an entry/);
  const bad = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("<html>maintenance</html>") }] });
  assert.equal(bad.output._default!.length, 0);
  assert.equal(bad.dumped, 1);
  assert.match(dumpReason(bad.dumps[0]!), /abusech_feodotracker: the report is not JSON/);
  assert.equal(dumpedRaw(bad.dumps[0]!), "<html>maintenance</html>");
});

test("abusech_feodotracker: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "abusech_feodotracker");
});
