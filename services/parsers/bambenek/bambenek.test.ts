// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpedRaw } from "../../../test/helpers/dumps.js";

const report = (url: string, lines: string[]) => ({
  __type: "Report", "feed.url": url, raw: Buffer.from(["## header", "#", ...lines].join("\n")).toString("base64"),
});

test("bambenek: C2 IPs, C2 domains and DGA domains by feed.url", async () => {
  const ip = await runBot(bot, { params: {}, input: [report("https://osint.bambenekconsulting.com/feeds/c2-ipmasterlist.txt",
    ["192.0.2.10,IP used by bebloh C&C,2016-11-12 18:02,http://osint.bambenekconsulting.com/manual/bebloh.txt"])] });
  const e = ip.output._default![0]!;
  assert.equal(e["source.ip"], "192.0.2.10");
  assert.equal(e["classification.type"], "c2-server");
  assert.equal(e.status, "online");
  assert.equal(e["time.source"], "2016-11-12T18:02:00+00:00");
  assert.equal(e["malware.name"], "bebloh");
  const dga = await runBot(bot, { params: {}, input: [report("http://osint.bambenekconsulting.com/feeds/dga-feed.txt",
    ["abcdefgh.com,Domain used by Cryptolocker,2016-11-10,http://osint.bambenekconsulting.com/manual/cl.txt"])] });
  const d = dga.output._default![0]!;
  assert.equal(d["source.fqdn"], "abcdefgh.com");
  assert.equal(d["classification.type"], "dga-domain");
  assert.equal(d["malware.name"], "cryptolocker", "short names mapped as IntelMQ does");
  assert.equal(d["time.source"], "2016-11-10T00:00:00+00:00");
});

test("bambenek: a report of an unknown feed is dumped line by line with the header", async () => {
  const out = await runBot(bot, { params: {}, input: [report("https://example.com/other.txt", ["a.example,x,2016-11-10,http://x/y.txt"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /Unknown data feed/);
  assert.equal(dumpedRaw(out.dumps[0]!), "## header\n#\na.example,x,2016-11-10,http://x/y.txt");
});

test("bambenek: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "bambenek");
});
