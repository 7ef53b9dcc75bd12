// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const HEADER = ["#   DShield.org Recommended Block List", "#    updated: Tue Dec 15 15:33:38 2015 UTC", "#", "Start\tEnd\tNetblock\tAttacks\tName\tCountry\temail"];
const report = (header: string[], lines: string[]) => ({ __type: "Report", raw: b64(["", ...header, ...lines, "# END", ""].join("\n")) });

test("dshield_block: networks with attacks, name, country and contact, dated by the header", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(HEADER, [
    "192.0.2.0\t192.0.2.255\t24\t788\tExample Net\tAT\tabuse@example.com",
    "198.51.100.0\t198.51.100.255\t24\t585\t\t\t",
  ])] });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.network"], "192.0.2.0/24");
  assert.equal(a!["time.source"], "2015-12-15T15:33:38+00:00");
  assert.equal(a!["classification.type"], "blacklist");
  assert.equal(a!["extra.attacks"], 788);
  assert.equal(a!["extra.network_name"], "Example Net");
  assert.equal(a!["source.geolocation.cc"], "AT");
  assert.equal(a!["source.abuse_contact"], "abuse@example.com");
  assert.equal(b!["extra.attacks"], 585);
  assert.equal(b!["source.geolocation.cc"], undefined);
  assert.equal(unb64(b!.raw), "198.51.100.0\t198.51.100.255\t24\t585", "trailing empty columns are stripped");
});

test("dshield_block: a line with a bad attack count is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(HEADER, ["192.0.2.0\t192.0.2.255\t24\tmany", "198.51.100.0\t198.51.100.255\t24\t3"])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.network"]), ["198.51.100.0/24"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /number of attacks "many" is no number/);
  assert.equal(dumpedRaw(out.dumps[0]!), "192.0.2.0\t192.0.2.255\t24\tmany");
});

test("dshield_block: without the updated date the lines fail", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(["# no date"], ["192.0.2.0\t192.0.2.255\t24\t1"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /no "updated:" date/);
  assert.equal(dumpedRaw(out.dumps[0]!), "192.0.2.0\t192.0.2.255\t24\t1");
});

test("dshield_block: a line that is no record is dumped with the reason", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(HEADER, ["garbage\tline", "198.51.100.0\t198.51.100.255\t24\t3"])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.network"]), ["198.51.100.0/24"]);
  assert.equal(out.dumped, 1);
  assert.equal(unb64(JSON.parse(out.dumps[0]!.message).raw), "garbage\tline");
  assert.match(String(out.dumps[0]!.traceback), /ValueError: dshield_block: a record has at least 3 tab-separated columns/);
});

test("dshield_block: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "dshield_block");
});
