// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

test("openphish: one phishing event per URL line, raw the line", async () => {
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", "feed.name": "OpenPhish", raw: "aHR0cDovL3d3dy5leGFtcGxlLmNvbS9waGlzaAoKaHR0cHM6Ly9sb2dpbi5leGFtcGxlLm5ldC94P3k9MQo=" }] });
  const evs = out.output._default!;
  assert.deepEqual(evs.map((e) => e["source.url"]), ["http://www.example.com/phish", "https://login.example.net/x?y=1"]);
  assert.ok(evs.every((e) => e["classification.type"] === "phishing" && e["feed.name"] === "OpenPhish"));
  assert.equal(Buffer.from(String(evs[0]!.raw), "base64").toString(), "http://www.example.com/phish");
});

test("openphish: a line that is no URL is dumped, the others go on", async () => {
  const raw = Buffer.from("http://ok.example.com/a\nnot a url at all\n").toString("base64");
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw }] });
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*'not a url at all'.*source\.url/);
  assert.equal(dumpedRaw(out.dumps[0]!), "not a url at all");
});

test("openphish: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "openphish");
});

test("openphish: a line IntelMQ takes for no value ('-', 'N/A') is dumped with its raw, not sent without URL", async () => {
  const raw = Buffer.from("http://ok.example.com/a\n-\nN/A\n").toString("base64");
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.url"]), ["http://ok.example.com/a"]);
  assert.deepEqual(out.dumps.map((d) => Buffer.from(JSON.parse(d.message).raw, "base64").toString()), ["-", "N/A"]);
  assert.match(String(out.dumps[0]!.traceback), /ValueError: openphish: no value for source\.url: "-"/);
});
