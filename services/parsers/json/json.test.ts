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
const report = (raw: string, extra: Record<string, unknown> = {}) => ({ __type: "Report", "feed.name": "Test feed", raw: b64(raw), ...extra });

test("one JSON message per report; raw is the message text when it has none", async () => {
  const text = '{"source.ip": "127.0.0.2", "classification.type": "c2-server"}\n';
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  const [ev] = out.output._default!;
  assert.equal(ev!["source.ip"], "127.0.0.2");
  assert.equal(ev!["classification.type"], "c2-server");
  assert.equal(ev!["feed.name"], "Test feed");
  assert.equal(ev!.__type, "Event");
  assert.equal(unb64(ev!.raw), text);
});

test("the message's own fields win over the report's, values are sanitised", async () => {
  const msg = { "feed.name": "Inner", raw: "Zm9vYmFyCg==", __type: "Event", "time.observation": "2015-01-01T00:00:00+00:00", "classification.type": "unknown" };
  const out = await runBot(bot, { params: HARNESS, input: [report(JSON.stringify(msg), { "time.observation": "2016-10-10T00:00:00+00:00" })] });
  const [ev] = out.output._default!;
  assert.equal(ev!["feed.name"], "Inner");
  assert.equal(ev!["time.observation"], "2015-01-01T00:00:00+00:00");
  assert.equal(ev!.raw, "Zm9vYmFyCg==");
  assert.equal(ev!["classification.type"], "undetermined");
});

test("splitlines: one event per line; a broken line fails alone", async () => {
  const lines = ['{"source.ip": "127.0.0.1"}', "not json", '{"source.ip": "127.0.0.3"}'];
  const out = await runBot(bot, { params: { ...HARNESS, splitlines: true }, input: [report(lines.join("\n") + "\n")] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["127.0.0.1", "127.0.0.3"]);
  assert.equal(unb64(out.output._default![0]!.raw), lines[0]);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /JSON/);
  assert.equal(dumpedRaw(out.dumps[0]!), "not json");
  assert.equal(unb64(out.output._on_error![0]!.raw), "not json");
});

test("multiple_events: a JSON list of messages", async () => {
  const list = [{ "source.ip": "192.0.2.1" }, { "source.ip": "192.0.2.2", "extra.x": [1, 2] }];
  const out = await runBot(bot, { params: { ...HARNESS, multiple_events: true }, input: [report(JSON.stringify(list))] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1", "192.0.2.2"]);
  assert.deepEqual(out.output._default![1]!["extra.x"], [1, 2]);
  assert.deepEqual(JSON.parse(unb64(out.output._default![0]!.raw)), list[0]);
});

test("json: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "json");
});
