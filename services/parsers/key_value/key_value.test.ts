// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import { Rng } from "../../../test/helpers/random.js";
import bot, { parseTime } from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpedRaw } from "../../../test/helpers/dumps.js";

/** The lines of the parser's default parse(): UTF-8 text split as Python's splitlines(). */
const reportText = (b: Uint8Array) => Buffer.from(b).toString("utf8").split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const KEYS = { srcip: "source.ip", type: "classification.type" };
const report = (raw: string) => ({
  __type: "Report", "feed.name": "Key-value test", "time.observation": "2020-09-11T08:40:18+00:00", raw: b64(raw),
});
const run = (raw: string, params: Record<string, unknown> = {}) =>
  runBot(bot, { params: { ...HARNESS, keys: KEYS, ...params }, input: [report(raw)] });

test("parseTime: digits are UNIX seconds, other text is read fuzzily, nonsense is null", () => {
  assert.equal(parseTime("1234567890"), "2009-02-13T23:31:30+00:00");
  assert.equal(parseTime("2009-02-14T00:31:30+01:00"), "2009-02-13T23:31:30+00:00");
  assert.equal(parseTime("no time here"), null);
  assert.equal(parseTime(""), null);
});

test("key_value: configured keys become fields, other keys and tokens without '=' are ignored", async () => {
  const line = "header srcip=192.0.2.1 dstip=192.0.2.2 type=test trailer";
  const out = await run(line);
  const [e] = out.output._default!;
  assert.equal(e!["source.ip"], "192.0.2.1");
  assert.equal(e!["classification.type"], "test");
  assert.equal(e!["destination.ip"], undefined);
  assert.equal(e!["feed.name"], "Key-value test");
  assert.equal(unb64(e!.raw), line);
});

test("key_value: one event per line, empty lines skipped", async () => {
  const out = await run("srcip=192.0.2.1 type=test\n\nsrcip=192.0.2.2 type=scanner\n");
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1", "192.0.2.2"]);
  assert.deepEqual(out.output._default!.map((e) => e["classification.type"]), ["test", "scanner"]);
});

test("key_value: quotes stripped by default, kept with strip_quotes false", async () => {
  const stripped = await run('srcip="192.0.2.1" type="test"');
  assert.equal(stripped.output._default![0]!["source.ip"], "192.0.2.1");
  const kept = await run('comment="Quoted" srcip=192.0.2.1 type=test', { keys: { ...KEYS, comment: "comment" }, strip_quotes: "false" });
  assert.equal(kept.output._default![0]!.comment, '"Quoted"');
});

test("key_value: other separators; the last kv separator of a pair splits it", async () => {
  const colon = await run("srcip:192.0.2.1 type:test", { kv_separator: ":" });
  assert.equal(colon.output._default![0]!["source.ip"], "192.0.2.1");
  const pipe = await run("srcip=192.0.2.1|type=test", { pair_separator: "|" });
  assert.equal(pipe.output._default![0]!["classification.type"], "test");
  const last = await run("a=srcip=192.0.2.9 srcip=192.0.2.1", { keys: { "a=srcip": "source.ip" } });
  assert.equal(last.output._default![0]!["source.ip"], "192.0.2.9");
});

test("key_value: time.source from epoch or text; an unparsable time or invalid value is left out", async () => {
  const keys = { ...KEYS, timestamp: "time.source" };
  const epoch = await run("srcip=192.0.2.1 type=test timestamp=1234567890", { keys });
  assert.equal(epoch.output._default![0]!["time.source"], "2009-02-13T23:31:30+00:00");
  const text = await run('srcip=192.0.2.1 timestamp="2009-02-14T00:31:30+01:00"', { keys });
  assert.equal(text.output._default![0]!["time.source"], "2009-02-13T23:31:30+00:00");
  const bad = await run("srcip=not-an-ip type=test timestamp=never", { keys });
  const [e] = bad.output._default!;
  assert.equal(e!["time.source"], undefined);
  assert.equal(e!["source.ip"], undefined);
  assert.equal(e!["classification.type"], "test");
  assert.equal(bad.dumped, 0);
});

test("key_value: a key repeated in a line fails that line alone, with a clear reason", async () => {
  const out = await run("srcip=192.0.2.1 type=test\nsrcip=192.0.2.2 srcip=192.0.2.3");
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /key 'source\.ip' already exists/);
  assert.equal(dumpedRaw(out.dumps[0]!), "srcip=192.0.2.2 srcip=192.0.2.3");
  assert.equal(unb64(out.output._on_error![0]!.raw), "srcip=192.0.2.2 srcip=192.0.2.3");
});

test("key_value: without keys the bot does not start", async () => {
  await assert.rejects(runBot(bot, { params: HARNESS, input: [report("srcip=192.0.2.1")] }), /No keys specified/);
});

test("key_value: a line without any configured key is dumped, not sent as an empty event", async () => {
  const out = await run("srcip=192.0.2.1 type=test\nno pairs on this line\nother=1 more=2\n");
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1"]);
  assert.equal(out.dumped, 2);
  assert.deepEqual(out.dumps.map((d) => unb64(JSON.parse(d.message).raw)), ["no pairs on this line", "other=1 more=2"]);
  assert.match(String(out.dumps[0]!.traceback), /ValueError: key_value: the line gives no field of its own/);
});

test("key_value: 64 KB of random bytes give no events, every line is dumped", async () => {
  const rng = new Rng(20240611);
  const bytes = rng.bytes(64 * 1024);
  const out = await runBot(bot, { params: { ...HARNESS, keys: KEYS }, input: [{ ...report(""), raw: Buffer.from(bytes).toString("base64") }] });
  assert.equal(out.output._default!.length, 0);
  const lines = reportText(bytes).filter((l) => l.trim() !== "");
  assert.equal(out.dumped, lines.length);
});

test("key_value: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "key_value");
});
