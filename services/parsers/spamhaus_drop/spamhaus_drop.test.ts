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
const HEADER = ["; Spamhaus DROP List 2024/01/02", "; Last-Modified: Tue, 02 Jan 2024 10:20:30 GMT"];
const report = (url: string, lines: string[]) => ({ __type: "Report", "feed.url": url, raw: b64([...HEADER, ...lines, ""].join("\n")) });

test("spamhaus_drop: networks with their SBL id, dated by Last-Modified", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://www.spamhaus.org/drop/drop.txt", ["192.0.2.0/24 ; SBL000001", "2001:db8::/32 ; SBL000002"])] });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.network"], "192.0.2.0/24");
  assert.equal(a!["extra.blocklist"], "SBL000001");
  assert.equal(a!["time.source"], "2024-01-02T10:20:30+00:00");
  assert.equal(a!["classification.type"], "spam");
  assert.equal(unb64(a!.raw), "192.0.2.0/24 ; SBL000001");
  assert.equal(b!["source.network"], "2001:db8::/32");
});

test("spamhaus_drop: ASN lines with and without a country", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://www.spamhaus.org/drop/asndrop.txt", ["AS64496 ; AT | EXAMPLE-AS Example Net", "AS64497 ; | Other Net"])] });
  const [a, b] = out.output._default!;
  assert.equal(a!["source.asn"], 64496);
  assert.equal(a!["source.geolocation.cc"], "AT");
  assert.equal(a!["source.as_name"], "EXAMPLE-AS Example Net");
  assert.equal(b!["source.asn"], 64497);
  assert.equal(b!["source.geolocation.cc"], undefined);
});

test("spamhaus_drop: a network line without blocklist id is dumped with the header, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://www.spamhaus.org/drop/edrop.txt", ["192.0.2.0/24", "198.51.100.0/24 ; SBL000003"])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.network"]), ["198.51.100.0/24"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /network line without/);
  assert.equal(dumpedRaw(out.dumps[0]!), [...HEADER, "192.0.2.0/24"].join("\n"));
  assert.equal(unb64(out.output._on_error![0]!.raw), [...HEADER, "192.0.2.0/24"].join("\n"));
});

test("spamhaus_drop: a report of an unknown feed fails line by line", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("https://example.com/drop.txt", ["192.0.2.0/24 ; SBL1"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /Unknown data feed https:\/\/example.com\/drop.txt/);
  assert.equal(dumpedRaw(out.dumps[0]!), [...HEADER, "192.0.2.0/24 ; SBL1"].join("\n"));
});

test("spamhaus_drop: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "spamhaus_drop");
});
