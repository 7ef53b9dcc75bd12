// SPDX-License-Identifier: AGPL-3.0-only
/** The runtime through runBot / startBot on the memory broker: experts, retries, dumps, error procedures. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../broker/index.js";
import { encodeEnvelope } from "../message/index.js";
import { createLibraryBot, createLogger, runBot, startBot } from "./index.js";
import { FakeClock, turns, onMemory, log, ev, makeExpert, nextSettled, waitFor, drain } from "./runner-fixtures.js";

test("expert: events pass on _default; a path chosen by the bot (IntelMQ test_expert_bot)", async () => {
  const bot = makeExpert();
  const lib = await createLibraryBot(bot, { destinationPaths: ["two-way", "_default", "other-way"] });
  try {
    const r1 = await lib.process([{ "feed.name": "Test", __type: "Report" }]);
    assert.deepEqual(r1.output, { "two-way": [], _default: [{ "feed.name": "Test", __type: "Report" }], "other-way": [] });
    const r2 = await lib.process([{ "feed.name": "Test", __type: "Report", "feed.code": "two-way" }]);
    assert.deepEqual(r2.output["two-way"], [{ "feed.name": "Test", "feed.code": "two-way", __type: "Report" }]);
    assert.deepEqual(r2.output._default, []);
    const r3 = await lib.process([{ "feed.name": "Test", __type: "Report", "feed.code": "other-way" }]);
    assert.equal(r3.output["other-way"]!.length, 1);
    assert.equal(r3.dumped, 0);
    assert.deepEqual(lib.stats().paths, { _default: 1, "two-way": 1, "other-way": 1 });
    assert.equal(lib.stats().latency_ms?.count, 3, "each acknowledged input has its latency recorded");
  } finally {
    await lib.shutdown();
  }
});

test("retries, then dump and _on_error; every failed attempt counts", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const lib = await createLibraryBot(makeExpert(counter), { params: { error_max_retries: 2 } });
  try {
    const r = await lib.process([ev({ "feed.code": "fail" }), ev({ "source.ip": "192.0.2.9" })]);
    assert.equal(counter.calls, 4); // 3 attempts + the good one
    assert.equal(r.dumped, 1);
    const d = r.dumps[0]!;
    assert.equal(d.bot_id, "test-bot");
    assert.equal(d.source_queue, "test-bot-queue");
    assert.equal(d.message_type, undefined);
    assert.ok(Array.isArray(d.traceback));
    // One line for the operator: the reason, no JavaScript frames (the bot does not log at DEBUG).
    assert.deepEqual(d.traceback, ["Error: always failing\n"]);
    assert.deepEqual(JSON.parse(d.message), ev({ "feed.code": "fail" }));
    assert.match(d.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.deepEqual(r.output._on_error, [ev({ "feed.code": "fail" })]);
    assert.deepEqual(r.output._default, [ev({ "source.ip": "192.0.2.9" })]);
    assert.equal(lib.stats().failure, 3);
    assert.equal(lib.stats().success, 1);
  } finally {
    await lib.shutdown();
  }
  assert.equal(counter.shutdowns, 1);
});

test("a dump's traceback is the one-line reason; at logging level DEBUG the stack comes before it", async () => {
  const silent = createLogger({ level: "DEBUG", destination: { write: () => undefined } });
  const quiet = await runBot(makeExpert(), { params: { error_max_retries: 0, logging_level: "INFO" }, logger: silent, input: [ev({ "feed.code": "invalid" })] });
  assert.deepEqual(quiet.dumps.map((d) => d.traceback), [["intelmq.lib.exceptions.InvalidValue: invalid value -1 (<class 'int'>) for key 'source.asn'\n"]]);
  const debug = await runBot(makeExpert(), { params: { error_max_retries: 0, logging_level: "DEBUG" }, logger: silent, input: [ev({ "feed.code": "fail" })] });
  const tb = debug.dumps[0]!.traceback as string[];
  assert.equal(tb[0], "Stack (most recent call first):\n");
  assert.ok(tb.length > 2 && tb.slice(1, -1).every((l) => /^  at /.test(l)), tb.join(""));
  assert.equal(tb.at(-1), "Error: always failing\n", "the reason stays the last line, where intelmqdump looks");
});

test("at DEBUG a bot logs its parameters with the shared secrets hidden, also when it does not declare them (runtime.yaml's global)", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "DEBUG", destination: { write: (l: string) => { lines.push(l); } } });
  const params = { logging_level: "DEBUG", tag: "t", http_header: { Authorization: "Bearer abc123" }, http_password: "pw-123", http_user_agent: "ua" };
  await runBot(makeExpert(), { params, logger, input: [] });
  const loaded = lines.map((l) => (JSON.parse(l) as { msg: string }).msg).filter((m) => m.startsWith("Runtime configuration: parameter"));
  assert.ok(loaded.includes('Runtime configuration: parameter "http_header" loaded with value "HIDDEN".'), loaded.join("\n"));
  assert.ok(loaded.includes('Runtime configuration: parameter "http_password" loaded with value "HIDDEN".'));
  assert.ok(loaded.includes('Runtime configuration: parameter "http_user_agent" loaded with value "ua".'), "the other shared parameters are shown");
  assert.ok(!lines.some((l) => l.includes("abc123") || l.includes("pw-123")));
});

test("a failure that goes away within the retries is not dumped", async () => {
  const r = await runBot(makeExpert(), { params: { error_max_retries: 3 }, input: [ev({ "feed.code": "fail-2" })] });
  assert.equal(r.dumped, 0);
  assert.equal(r.output._default!.length, 1);
  assert.deepEqual(r.output._on_error, []);
});

test("error_dump_message false: given up on without a dump, still sent to _on_error", async () => {
  const r = await runBot(makeExpert(), { params: { error_max_retries: 0, error_dump_message: false }, input: [ev({ "feed.code": "fail" })] });
  assert.equal(r.dumped, 0);
  assert.equal(r.output._on_error!.length, 1);
});

test("InvalidValue raised in process: dumped at once, no retries", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const r = await runBot(makeExpert(counter), { params: { error_max_retries: 5 }, input: [ev({ "feed.code": "invalid" })] });
  assert.equal(counter.calls, 1);
  assert.equal(r.dumped, 1);
  assert.deepEqual(r.dumps[0]!.traceback, ["intelmq.lib.exceptions.InvalidValue: invalid value -1 (<class 'int'>) for key 'source.asn'\n"]);
  assert.deepEqual(JSON.parse(r.dumps[0]!.message), ev({ "feed.code": "invalid" }));
  assert.equal(r.dumps[0]!.message_type, undefined);
});

test("InvalidValue on receive: dumped as base64 of the dict's JSON, never processed (IntelMQ test_invalid_value_on_input_message)", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const r = await runBot(makeExpert(counter), { input: [{ "source.asn": 0, __type: "Event" }] });
  assert.equal(counter.calls, 0);
  assert.equal(r.dumped, 1);
  assert.equal(r.dumps[0]!.message_type, "base64");
  assert.equal(r.dumps[0]!.message, "eyJzb3VyY2UuYXNuIjogMH0=");
  assert.match((r.dumps[0]!.traceback as string[]).at(-1)!, /InvalidValue/);
  assert.deepEqual(r.output._default, []);
});

test("undecodable bytes: the raw envelope is dumped as base64 (IntelMQ test_encoding_error_on_input_message)", async () => {
  const raw = Buffer.from("Zm9vyWJhcg==", "base64");
  const r = await runBot(makeExpert(), { input: [new Uint8Array(raw)] });
  assert.equal(r.dumped, 1);
  assert.equal(r.dumps[0]!.message, "Zm9vyWJhcg==");
  assert.equal(r.dumps[0]!.message_type, "base64");
  assert.match((r.dumps[0]!.traceback as string[]).at(-1)!, /^intelmq\.lib\.exceptions\.DecodingError: Could not decode message/);
});

test("unknown path: an error of that message; permissive: dropped silently", async () => {
  const r = await runBot(makeExpert(), { params: { error_max_retries: 0 }, input: [ev({ "feed.code": "nowhere" }), ev({ "feed.code": "permissive" })] });
  assert.equal(r.dumped, 1);
  assert.match((r.dumps[0]!.traceback as string[]).at(-1)!, /PipelineError.*nowhere/);
  assert.deepEqual(JSON.parse(r.dumps[0]!.message), ev({ "feed.code": "nowhere" }));
  assert.deepEqual(r.output._default, []);
  assert.equal(r.output._on_error!.length, 1);
});

test("error_procedure stop: the envelope stays unacked, nothing dumped, exit 1", { timeout: 30_000 }, async () => {
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { error_procedure: "stop", error_max_retries: 0, destination_queues: { _default: ["out"], _on_error: ["err"] } }, broker, logger: log });
  await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "feed.code": "fail" })]));
  assert.equal(await h.done, 1);
  assert.equal(h.stats().state, "error");
  assert.equal(await broker.queues.depth("ex-queue"), 1);
  assert.equal((await broker.dumps.read()).length, 0);
  assert.equal(await broker.queues.depth("err"), 0);
  await broker.close();
});

test("error_procedure stop after retries: the retry waits for the clock, then the bot stops with exit 1; the message stays unacked, nothing dumped or sent, nothing more taken", { timeout: 30_000 }, async () => {
  const clock = new FakeClock();
  const counter = { calls: 0, shutdowns: 0 };
  await onMemory(async (broker, start) => {
    const h = await start({
      def: makeExpert(counter), botId: "ex", clock,
      params: { error_procedure: "stop", error_max_retries: 1, error_retry_delay: 3, destination_queues: { _default: ["out"], _on_error: ["err"] } },
    });
    const settled = nextSettled(h);
    await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "feed.code": "fail" })]));
    await waitFor(() => clock.pending.length === 1, "the wait before the retry");
    assert.deepEqual(clock.requested, [3000]);
    assert.equal(counter.calls, 1);
    clock.fire();
    assert.equal(await h.done, 1);
    assert.equal(counter.calls, 2, "one retry, then given up");
    assert.equal((await settled).outcome, "left");
    assert.equal(h.stats().state, "error");
    assert.equal(await broker.queues.depth("ex-queue"), 1, "left unacked");
    assert.deepEqual(await broker.dumps.read(), []);
    assert.equal(await broker.queues.depth("err"), 0);
    assert.equal(await broker.queues.depth("out"), 0);
    await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": "192.0.2.9" })]));
    await turns();
    assert.equal(counter.calls, 2, "a stopped bot takes nothing more");
    assert.equal(await broker.queues.depth("out"), 0);
  });
});

test("error_retry_delay: each retry waits error_retry_delay seconds on the clock and happens only when it fires", { timeout: 30_000 }, async () => {
  const clock = new FakeClock();
  const counter = { calls: 0, shutdowns: 0 };
  await onMemory(async (broker, start) => {
    const h = await start({
      def: makeExpert(counter), botId: "ex", clock,
      params: { error_max_retries: 2, error_retry_delay: 7, destination_queues: { _default: ["out"], _on_error: ["err"] } },
    });
    const settled = nextSettled(h);
    await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "feed.code": "fail-2" })]));
    await waitFor(() => clock.pending.length === 1, "the wait before the first retry");
    assert.deepEqual(clock.requested, [7000]);
    await turns();
    assert.equal(counter.calls, 1, "no retry before the clock fires");
    clock.fire();
    await waitFor(() => counter.calls === 2 && clock.pending.length === 1, "the first retry (failing again) and the wait before the second");
    assert.deepEqual(clock.requested, [7000, 7000]);
    await turns();
    assert.equal(counter.calls, 2);
    assert.equal(await broker.queues.depth("out"), 0, "nothing sent while retrying");
    clock.fire();
    assert.equal((await settled).outcome, "acked");
    assert.equal(counter.calls, 3);
    assert.deepEqual((await drain(broker, "out")).map((e) => e["feed.code"]), ["fail-2"]);
    assert.equal(await broker.queues.depth("err"), 0);
    assert.deepEqual(await broker.dumps.read(), []);
    assert.equal(h.stats().failure, 2);
    assert.equal(h.stats().success, 1);
  });
});
