// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const PAGE = readFileSync(src("services", "parsers", "threatminer", "fixtures", "page.html"), "utf8");
const report = (text: string) => ({
  __type: "Report", "feed.name": "Threatminer", "time.observation": "2018-01-22T14:38:24+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("threatminer: the recent domains (not the hosts), raw the page's line of each; an invalid one is dumped", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(PAGE)] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["bad.example.com", "www.example.net"]);
  const e = out.output._default![0]!;
  assert.equal(e["classification.type"], "blacklist");
  assert.equal(unb64(e.raw), "'>bad.example.com");
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /192\.0\.2\.99/);
  assert.equal(dumpedRaw(out.dumps[0]!), "'>192.0.2.99");
});

test("threatminer: a page without recent domains is dumped whole, naming the parser", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("<html>down for maintenance</html>")] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /threatminer: the page has no "Recent domains"/);
});

test("threatminer: the sample report (fixtures/sample.json) gives an event per domain and dumps nothing", async () => {
  await assertSample(bot, "threatminer");
});
