// SPDX-License-Identifier: AGPL-3.0-only
/** The runtime through runBot / startBot on the memory broker, with small bots defined here. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { z } from "zod";
import { BrokerUnavailableError, InvalidValue } from "../errors/index.js";
import { MemoryBroker, type Broker, type Delivery, type QueueSettings, type Subscription } from "../broker/index.js";
import { decodeEnvelope, encodeEnvelope, type Event, type Report } from "../message/index.js";
import {
  createLibraryBot, createLogger, defineBot, p, parserParams, collectorParams, runBot, startBot,
  type BotContext, type BotHandle, type SettledInfo, type StartBotOptions,
} from "./index.js";
import { RecentSet, type Clock } from "./util.js";
import { tempDir } from "../../test/helpers/tmp.js";

/** A clock that moves only when the test fires it; it records every wait the runtime asks for. */
class FakeClock implements Clock {
  /** Every wait asked for, in ms, in order. */
  readonly requested: number[] = [];
  readonly #timers = new Set<{ ms: number; fn: () => void }>();
  after(ms: number, fn: () => void): () => void {
    const t = { ms, fn };
    this.requested.push(ms);
    this.#timers.add(t);
    return () => { this.#timers.delete(t); };
  }
  /** The waits in progress (ms). */
  get pending(): number[] { return [...this.#timers].map((t) => t.ms); }
  /** End every wait in progress. */
  fire(): void {
    const due = [...this.#timers];
    this.#timers.clear();
    for (const t of due) t.fn();
  }
}

/** Let the event loop go round: whatever the runtime would do next without a timer, it has done. */
async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** INTELMQ_ROOT_DIR of a bot that is not in testing mode (it creates var/lib/bots/<id>). */
const scratch = () => tempDir("imq-runner-");

/**
 * Run `body` with a memory broker and a `start` for bots on it (not in testing mode, quiet, in a
 * scratch root); whatever happens, those bots are stopped and the broker closed.
 */
async function onMemory(body: (broker: MemoryBroker, start: (o: Omit<StartBotOptions, "broker" | "logger">) => Promise<BotHandle>) => Promise<void>): Promise<void> {
  const broker = new MemoryBroker();
  const started: BotHandle[] = [];
  const start = async (o: Omit<StartBotOptions, "broker" | "logger">): Promise<BotHandle> => {
    const h = await startBot({ rootDir: scratch(), ...o, params: { logging_level: "CRITICAL", ...o.params }, broker, logger: log });
    started.push(h);
    return h;
  };
  try {
    await body(broker, start);
  } finally {
    for (const h of started) await h.stop();
    await broker.close();
  }
}

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const OBS = "2015-01-01T00:00:00+00:00";
const ev = (extra: Record<string, unknown> = {}) => ({ __type: "Event", "time.observation": OBS, "source.ip": "192.0.2.1", ...extra });
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

/** Passes events on; feed.code picks a path, "fail" throws, "fail-N" throws N times per event. */
function makeExpert(counter = { calls: 0, shutdowns: 0 }) {
  const failures = new Map<string, number>();
  return defineBot({
    kind: "expert", name: "test", intelmq: "test.expert", description: "test",
    params: z.object({ tag: z.string().default("") }).strict(),
    create: (params) => ({
      process(e: Event) {
        counter.calls++;
        const code = e.get("feed.code") as string | undefined;
        if (code === "fail") throw new Error("always failing");
        const m = code?.match(/^fail-(\d+)$/);
        if (m) {
          const key = String(e.get("source.ip"));
          const n = failures.get(key) ?? 0;
          failures.set(key, n + 1);
          if (n < Number(m[1])) throw new Error("failing for now");
        }
        if (code === "invalid") throw new InvalidValue("source.asn", -1);
        if (params.tag) e.add("extra.tag", params.tag, { overwrite: true });
        if (code === "permissive") return { path: "nowhere", msg: e, permissive: true };
        if (code && !code.startsWith("fail")) return { path: code, msg: e };
        return e;
      },
      shutdown() { counter.shutdowns++; },
    }),
  });
}

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

// ---- parser ---------------------------------------------------------------------------------

const RAW = `# ignore this
2015/06/04 13:37 +00,example.org,192.0.2.3,reverse.example.net,example description,report@example.org,1

2015/06/04 13:38 +00,example.org,19a2.0.2.3,reverse.example.net,example description,report@example.org,1
2015/06/04 13:38 +00,example.org,19b2.0.2.3,reverse.example.net,example description,report@example.org,1
#ending line`;
const RAW_SPLIT = RAW.split("\n");
const REPORT = { "feed.url": "http://www.example.com/", "time.observation": "2015-08-11T13:03:40+00:00", raw: b64(RAW), __type: "Report", "feed.name": "Example" };
const EVENT = {
  "feed.url": "http://www.example.com/", "source.ip": "192.0.2.3", "time.source": "2015-06-04T13:37:00+00:00",
  "source.reverse_dns": "reverse.example.net", "source.fqdn": "example.org", "source.account": "report@example.org",
  "time.observation": "2015-08-11T13:03:40+00:00", __type: "Event", "classification.type": "malware-distribution",
  "event_description.text": "example description", "source.asn": 1, "feed.name": "Example", raw: b64(RAW_SPLIT.slice(0, 2).join("\n")),
};

/** IntelMQ's DummyParserBot of test_parser_bot.py, in our terms. */
const dummyParser = defineBot({
  kind: "parser", name: "dummy", intelmq: "test.parser", description: "",
  params: z.object({ ...parserParams }).strict(),
  create: (_p, ctx: BotContext) => {
    let tempdata: string[] = [];
    return {
      *parse(report: Report) {
        tempdata = [];
        for (const l of unb64(report.get("raw")).split("\n")) if (l.trim()) yield l.trim();
      },
      *parseLine(line: unknown, report: Report) {
        const s = String(line);
        if (s.startsWith("#")) { tempdata.push(s); return; }
        const ev = ctx.newEvent(report);
        const f = s.split(",");
        ev.add("time.source", f[0]);
        ev.add("source.fqdn", f[1]);
        ev.add("source.ip", f[2]);
        ev.add("source.reverse_dns", f[3]);
        ev.add("event_description.text", f[4]);
        ev.add("source.account", f[5]);
        ev.add("source.asn", f[6]);
        ev.add("classification.type", "malware-distribution");
        ev.add("raw", [...tempdata, s].join("\n"));
        yield ev;
      },
      recoverLine: (line: unknown) => [tempdata[0], String(line), tempdata[1]].join("\n"),
    };
  },
});

test("parser: failed lines dumped as report copies and sent to _on_error; other lines go on (IntelMQ test_event)", async () => {
  const r = await runBot(dummyParser, { input: [REPORT] });
  assert.deepEqual(r.output._default, [EVENT]);
  assert.equal(r.dumped, 2);
  const expectRaw = [3, 4].map((i) => b64([RAW_SPLIT[0], RAW_SPLIT[i], RAW_SPLIT[5]].join("\n")));
  assert.deepEqual(r.dumps.map((d) => JSON.parse(d.message).raw), expectRaw);
  for (const d of r.dumps) {
    assert.equal(typeof d.traceback, "string");
    assert.match(d.traceback as string, /InvalidValue.*source\.ip/);
    const { raw: _r, ...rest } = JSON.parse(d.message);
    const { raw: _r2, ...restReport } = REPORT;
    assert.deepEqual(rest, restReport);
  }
  assert.deepEqual(r.output._on_error!.map((m) => m.raw), expectRaw);
});

test("parser: default_fields added without overwrite (IntelMQ test_default_fields_parameter)", async () => {
  const r = await runBot(dummyParser, { params: { default_fields: { "protocol.application": "http", "source.ip": "10.0.0.1" } }, input: [REPORT] });
  assert.deepEqual(r.output._default, [{ ...EVENT, "protocol.application": "http" }]);
});

test("parser: bad default_fields stop a real bot, in tests the lines fail (IntelMQ test_bad_default_fields_parameter)", async () => {
  const r = await runBot(dummyParser, { params: { error_dump_message: false, default_fields: { invalid_key: 100000 } }, input: [REPORT] });
  assert.deepEqual(r.output._default, []);
  const broker = new MemoryBroker();
  const h = await startBot({ def: dummyParser, botId: "p", params: { default_fields: { "source.port": 100000 } }, broker, logger: log });
  assert.equal(await h.done, 1);
  await broker.close();
});

test("parser: copy_collector_provided_fields copies report fields into events", async () => {
  const report = { ...REPORT, "extra.file_name": "file.txt", "extra.field2": "value2" };
  const r = await runBot(dummyParser, { params: { copy_collector_provided_fields: ["extra.file_name", "extra.not_exists"] }, input: [report] });
  assert.deepEqual(r.output._default, [{ ...EVENT, "extra.file_name": "file.txt" }]);
});

test("parser: a report without raw is acked and dropped (IntelMQ test_missing_raw)", async () => {
  const r = await runBot(dummyParser, { input: [{ "feed.url": "http://www.example.com/", __type: "Report", "feed.name": "Example" }] });
  assert.deepEqual(r.output._default, []);
  assert.equal(r.dumped, 0);
});

/** The default parse(): stripped non-empty lines; one event per line. */
const lineParser = defineBot({
  kind: "parser", name: "lines", intelmq: "test.lines", description: "",
  params: z.object({ ...parserParams }).strict(),
  create: (_p, ctx) => ({
    parseLine(line: unknown, report: Report) {
      const e = ctx.newEvent(report);
      e.add("source.ip", String(line));
      e.add("classification.type", "other");
      return e;
    },
  }),
});

test("parser: default parse, events of one report in envelopes of batch_size", async () => {
  const broker = new MemoryBroker();
  const raw = b64(" 192.0.2.1\n\n192.0.2.2 \r\n192.0.2.3\n192.0.2.4\n192.0.2.5\n");
  const h = await startBot({ def: lineParser, botId: "lp", params: { batch_size: 2, destination_queues: ["out"] }, broker, logger: log });
  const settled = nextSettled(h);
  await broker.queues.publish("lp-queue", encodeEnvelope([{ __type: "Report", raw }]));
  await settled;
  const sub = await broker.queues.consume("out");
  const envelopes = await take(sub, 3);
  assert.deepEqual(envelopes.map((d) => decodeEnvelope(d.data).map((e) => e["source.ip"])), [["192.0.2.1", "192.0.2.2"], ["192.0.2.3", "192.0.2.4"], ["192.0.2.5"]]);
  await sub.stop();
  await h.stop();
  await broker.close();
});

// ---- collector -------------------------------------------------------------------------------

function makeCollector(withRaw = true) {
  return defineBot({
    kind: "collector", name: "dummy-collector", intelmq: "test.collector", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: (_p, ctx) => ({
      collect() {
        const r = ctx.newReport();
        if (withRaw) r.add("raw", "test");
        return [r];
      },
    }),
  });
}

test("collector: feed.* from the parameters (IntelMQ test_collector_bot test_event)", async () => {
  const r = await runBot(makeCollector(), { params: { name: "Example Feed", code: "Example Code", provider: "Example Provider", documentation: "Example Documentation" } });
  assert.equal(r.output._default!.length, 1);
  const rep = r.output._default![0]!;
  assert.equal(rep.raw, "dGVzdA==");
  assert.equal(rep["feed.name"], "Example Feed");
  assert.equal(rep["feed.code"], "Example Code");
  assert.equal(rep["feed.provider"], "Example Provider");
  assert.equal(rep["feed.documentation"], "Example Documentation");
  assert.equal(rep["feed.accuracy"], 100);
  assert.equal(rep.__type, "Report");
});

test("collector: reports without raw are dropped (IntelMQ test_missing_raw)", async () => {
  const r = await runBot(makeCollector(false), { params: { name: "Example Feed" } });
  assert.deepEqual(r.output._default, []);
});

test("collector, scheduled: one round with a deterministic id, then exit 0", async () => {
  const broker = new RecordingBroker();
  const h = await startBot({ def: makeCollector(), botId: "coll", params: { run_mode: "scheduled", destination_queues: "q1 q2", name: "F" }, broker, logger: log });
  assert.equal(await h.done, 0);
  assert.equal(await broker.queues.depth("q1"), 1);
  assert.equal(await broker.queues.depth("q2"), 1);
  const hash = createHash("sha256").update("dGVzdA==").digest("hex");
  assert.deepEqual(broker.ids, [{ queue: "q1", id: `coll:${hash}:0` }, { queue: "q2", id: `coll:${hash}:0` }]);
  await broker.close();
});

test("collector: the queues it feeds are archived, unless the settings say archive: false", async () => {
  class SettingsBroker extends MemoryBroker {
    readonly seen = new Map<string, QueueSettings | undefined>();
    constructor() {
      super();
      const ensure = this.queues.ensure.bind(this.queues);
      this.queues.ensure = async (queue, settings) => {
        this.seen.set(queue, settings);
        return ensure(queue, settings);
      };
    }
  }
  for (const [queueSettings, archived] of [[undefined, true], [{ archive: false }, false]] as const) {
    const broker = new SettingsBroker();
    const h = await startBot({ def: makeCollector(), botId: "coll", params: { run_mode: "scheduled", destination_queues: ["q"], name: "F" }, broker, logger: log, queueSettingsFor: () => queueSettings ?? {} });
    assert.equal(await h.done, 0);
    assert.equal(broker.seen.get("q")?.archive, archived);
    await broker.close();
  }
  const expertBroker = new SettingsBroker();
  const e = await startBot({ def: defineBot({ kind: "expert", name: "x", intelmq: "x", description: "x", params: z.object({}), create: () => ({ process: (ev: Event) => ev }) }), botId: "ex", params: { destination_queues: ["out"] }, broker: expertBroker, logger: log });
  await e.stop();
  assert.equal(expertBroker.seen.get("out")?.archive, undefined, "only collectors' queues are archived");
  await expertBroker.close();
});

test("collector: rate_limit idles rate_limit seconds between rounds; the next round waits for the clock, stop ends the idle", { timeout: 30_000 }, async () => {
  const clock = new FakeClock();
  let rounds = 0;
  const counting = defineBot({
    kind: "collector", name: "counting-collector", intelmq: "test.collector", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: (_p, ctx) => ({
      async collect() {
        // A turn of the event loop per round: a runtime that does not idle spins here visibly instead of hanging the test.
        await new Promise((r) => setImmediate(r));
        rounds++;
        const r = ctx.newReport();
        r.add("raw", `round ${rounds}`);
        return [r];
      },
    }),
  });
  await onMemory(async (broker, start) => {
    const h = await start({ def: counting, botId: "coll", params: { rate_limit: 60, destination_queues: ["q"], name: "F" }, clock });
    await waitFor(() => clock.pending.length === 1, "the idle after the first round");
    assert.deepEqual(clock.requested, [60_000], "rate_limit seconds, in ms");
    await turns();
    assert.equal(rounds, 1, "no second round before the clock fires");
    assert.equal(await broker.queues.depth("q"), 1);
    clock.fire();
    await waitFor(() => rounds === 2 && clock.pending.length === 1, "the second round and the idle after it");
    assert.equal(await broker.queues.depth("q"), 2);
    assert.deepEqual(clock.requested, [60_000, 60_000]);
    await h.stop();
    assert.equal(await h.done, 0);
    assert.deepEqual(clock.pending, [], "stop ended the idle");
    assert.equal(rounds, 2);
  });
  // Without rate_limit a collector idles a second, not a busy loop.
  const idle = new FakeClock();
  await onMemory(async (_broker, start) => {
    await start({ def: makeCollector(), botId: "coll", params: { destination_queues: ["q"], name: "F" }, clock: idle });
    await waitFor(() => idle.pending.length === 1, "the idle after the first round");
    assert.deepEqual(idle.requested, [1000]);
  });
});

/** A collector of three reports that records when commit() runs. */
function makeCommitCollector(events: string[]) {
  return defineBot({
    kind: "collector", name: "commit-collector", intelmq: "test.collector", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: (_p, ctx) => ({
      *collect() {
        for (const raw of ["a", "b", "c"]) {
          const r = ctx.newReport();
          r.add("raw", raw);
          yield r;
        }
      },
      commit() { events.push("commit"); },
    }),
  });
}

test("collector: commit() runs once per round, after every publish of the round was confirmed", async () => {
  const events: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  broker.queues.publish = async (queue, data, opts) => {
    events.push("publish");
    await gate;
    await publish(queue, data, opts);
    events.push("confirmed");
  };
  const h = await startBot({ def: makeCommitCollector(events), botId: "coll", params: { run_mode: "scheduled", destination_queues: ["q"], name: "F" }, broker, logger: log });
  await waitFor(() => events.includes("publish"), "a publish");
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(!events.includes("commit"), "no commit while publishes are unconfirmed");
  release();
  assert.equal(await h.done, 0);
  assert.equal(events.filter((e) => e === "commit").length, 1);
  assert.equal(events.at(-1), "commit");
  assert.equal(events.filter((e) => e === "confirmed").length, 3);
  assert.equal(await broker.queues.depth("q"), 3);
  await broker.close();

  // library mode drives the same round: one commit per round
  const lib: string[] = [];
  const r = await runBot(makeCommitCollector(lib), { params: { name: "F" }, iterations: 2 });
  assert.equal(r.output._default!.length, 6);
  assert.deepEqual(lib, ["commit", "commit"]);
});

test("collector: a round whose publish failed is not committed", async () => {
  const events: string[] = [];
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  let n = 0;
  broker.queues.publish = async (queue, data, opts) => {
    // the second report: the connection is gone for good
    if (++n === 2) {
      await broker.close();
      throw new BrokerUnavailableError("gone for the test");
    }
    await publish(queue, data, opts);
    events.push("confirmed");
  };
  const h = await startBot({ def: makeCommitCollector(events), botId: "coll", params: { run_mode: "scheduled", error_max_retries: 0, destination_queues: ["q"], name: "F" }, broker, logger: log });
  await h.done;
  assert.equal(h.stats().failure, 1);
  assert.ok(events.includes("confirmed"), "the first report went out");
  assert.ok(!events.includes("commit"));
});

// ---- engine on the broker --------------------------------------------------------------------

/** A MemoryBroker that records publishes and can fail them or lose acks. */
class RecordingBroker extends MemoryBroker {
  ids: { queue: string; id: string | undefined }[] = [];
  down = false;
  failedPublishes = 0;
  loseAck: ((d: Delivery) => boolean) | null = null;
  readonly #publish = this.queues.publish.bind(this.queues);
  readonly #consume = this.queues.consume.bind(this.queues);
  constructor() {
    super();
    this.queues.publish = (queue, data, opts) => this.#recordPublish(queue, data, opts);
    this.queues.consume = (queue, opts) => this.#wrapConsume(queue, opts);
  }
  async #recordPublish(queue: string, data: Uint8Array, opts?: { msgId?: string }): Promise<void> {
    if (this.down && !queue.endsWith("-queue")) {
      this.failedPublishes++;
      throw new BrokerUnavailableError("down for the test");
    }
    if (opts?.msgId) this.ids.push({ queue, id: opts.msgId });
    return this.#publish(queue, data, opts);
  }
  async #wrapConsume(queue: string, opts?: { maxInFlight?: number }): Promise<Subscription> {
    const sub = await this.#consume(queue, opts);
    const self = this;
    return {
      stop: () => sub.stop(),
      async *[Symbol.asyncIterator]() {
        for await (const d of sub) {
          const lose = self.loseAck;
          if (!lose) { yield d; continue; }
          yield { ...d, queue: d.queue, data: d.data, headers: d.headers, seq: d.seq, deliveryCount: d.deliveryCount,
            nak: (ms?: number) => d.nak(ms), term: () => d.term(), working: () => d.working(),
            ack: async () => { if (lose(d)) throw new BrokerUnavailableError("ack lost"); return d.ack(); } };
        }
      },
    };
  }
}

function nextSettled(h: BotHandle): Promise<SettledInfo> {
  return new Promise((resolve) => {
    const on = (s: SettledInfo) => { h.off("settled", on); resolve(s); };
    h.on("settled", on);
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what = "condition"): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function take(sub: Subscription, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  if (n === 0) return out;
  for await (const d of sub) {
    out.push(d);
    if (out.length === n) break;
  }
  return out;
}

async function drain(broker: Broker, queue: string): Promise<Record<string, unknown>[]> {
  const n = await broker.queues.depth(queue);
  const sub = await broker.queues.consume(queue);
  const ds = await take(sub, n);
  await sub.stop();
  for (const d of ds) await d.ack();
  return ds.flatMap((d) => decodeEnvelope(d.data));
}

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

/** A bot of each kind that takes inputs from its queue and records the source.ip (parser: line) of each. */
function recordingBot(kind: "parser" | "expert" | "output", seen: string[]) {
  const base = { name: "recording", intelmq: `test.${kind}`, description: "" };
  switch (kind) {
    case "parser":
      return defineBot({
        ...base, kind, params: z.object({ ...parserParams }).strict(),
        create: (_p, ctx) => ({
          parseLine(line: unknown, report: Report) {
            seen.push(String(line));
            const e = ctx.newEvent(report);
            e.add("source.ip", String(line));
            e.add("classification.type", "other");
            return e;
          },
        }),
      });
    case "expert":
      return defineBot({ ...base, kind, params: z.object({}), create: () => ({ process(e: Event) { seen.push(String(e.get("source.ip"))); return e; } }) });
    case "output":
      return defineBot({ ...base, kind, params: z.object({}), create: () => ({ export(e: Event) { seen.push(String(e.get("source.ip"))); } }) });
  }
}

for (const kind of ["parser", "expert", "output"] as const) {
  test(`${kind}: rate_limit waits rate_limit seconds after each message; the next one is taken only when the clock fires`, { timeout: 30_000 }, async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    await onMemory(async (broker, start) => {
      const params = { rate_limit: 5, ...(kind === "output" ? {} : { destination_queues: ["out"] }) };
      const h = await start({ def: recordingBot(kind, seen), botId: "rl", params, clock });
      const settled: SettledInfo[] = [];
      h.on("settled", (s) => settled.push(s));
      const ips = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
      for (const ip of ips) {
        await broker.queues.publish("rl-queue", encodeEnvelope([kind === "parser" ? { __type: "Report", raw: b64(ip) } : ev({ "source.ip": ip })]));
      }
      for (let n = 1; n <= ips.length; n++) {
        await waitFor(() => settled.length === n && clock.pending.length === 1, `message ${n} and the wait after it`);
        assert.deepEqual(clock.requested, Array(n).fill(5000), "rate_limit seconds, in ms, after each message");
        await turns();
        assert.deepEqual(seen, ips.slice(0, n), "the next message waits for the clock");
        assert.equal(settled.length, n);
        assert.ok(settled.every((s) => s.outcome === "acked"));
        assert.equal(await broker.queues.depth("rl-queue"), ips.length - n);
        if (kind !== "output") assert.equal(await broker.queues.depth("out"), n);
        clock.fire();
      }
    });
  });
}

test("load_balance: one queue of the path per envelope, in turn; without it every queue", async () => {
  for (const lb of [true, false]) {
    const broker = new MemoryBroker();
    const h = await startBot({ def: makeExpert(), botId: "ex", params: { load_balance: lb, destination_queues: ["a", "b"] }, broker, logger: log });
    for (let i = 1; i <= 4; i++) {
      const s = nextSettled(h);
      await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": `192.0.2.${i}` })]));
      await s;
    }
    assert.equal(await broker.queues.depth("a"), lb ? 2 : 4);
    assert.equal(await broker.queues.depth("b"), lb ? 2 : 4);
    await h.stop();
    await broker.close();
  }
});

test("msg ids: derived from the input; a lost ack is answered by an ack only, a fresh process republishes the same ids", async () => {
  const broker = new RecordingBroker();
  // 1) The ack of the first delivery is lost; the redelivery is recognised and only acked.
  let lost = false;
  broker.loseAck = (d) => {
    if (!lost && d.deliveryCount === 1) { lost = true; d.nak(); return true; }
    return false;
  };
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: { _default: ["out"] } }, broker, logger: log });
  const settledTwice = new Promise<void>((resolve) => {
    let n = 0;
    h.on("settled", () => { if (++n === 2) resolve(); });
  });
  await broker.queues.publish("ex-queue", encodeEnvelope([ev(), ev({ "source.ip": "192.0.2.2" })]));
  await settledTwice;
  assert.equal(broker.ids.length, 1);
  assert.equal(broker.ids[0]!.queue, "out");
  assert.match(broker.ids[0]!.id!, /^ex-queue:1:[0-9a-z]+\.[0-9a-z]+:_default:out:0$/, "queue, sequence and content of the input");
  assert.equal(await broker.queues.depth("ex-queue"), 0);
  assert.equal(await broker.queues.depth("out"), 1);
  await h.stop();

  // 2) A process dies after publishing, before acking: the next one republishes the same ids, deduplicated.
  broker.loseAck = null;
  const held: { d: Delivery | null } = { d: null };
  broker.loseAck = (d) => { held.d = d; return true; };
  const h1 = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: { _default: ["out"] } }, broker, logger: log });
  const s1 = nextSettled(h1);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": "192.0.2.3" })]));
  await s1;
  await h1.stop();
  broker.loseAck = null;
  held.d!.nak();
  const h2 = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: { _default: ["out"] } }, broker, logger: log });
  await waitFor(async () => (await broker.queues.depth("ex-queue")) === 0, "redelivery acked");
  const ids = broker.ids.slice(1).map((i) => i.id);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1], "the same id again");
  assert.match(ids[0]!, /^ex-queue:2:[0-9a-z]+\.[0-9a-z]+:_default:out:0$/);
  assert.equal(await broker.queues.depth("out"), 2);
  const out = await drain(broker, "out");
  assert.deepEqual(out.map((e) => e["source.ip"]), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
  await h2.stop();
  await broker.close();
});

test("publish failures are retried with the same ids and the input is not acked meanwhile", async () => {
  const broker = new RecordingBroker();
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: ["out"] }, broker, logger: log });
  broker.down = true;
  const settled = nextSettled(h);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  await waitFor(() => broker.failedPublishes >= 3, "failed publishes");
  assert.equal(await broker.queues.depth("ex-queue"), 1);
  assert.equal(await broker.queues.depth("out"), 0);
  broker.down = false;
  assert.equal((await settled).outcome, "acked");
  assert.equal(await broker.queues.depth("ex-queue"), 0);
  assert.equal(await broker.queues.depth("out"), 1);
  await h.stop();
  await broker.close();
});

test("stop drains: the message in process is finished and acked, the others go back to the queue", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let started!: () => void;
  const inProcess = new Promise<void>((r) => { started = r; });
  const slow = defineBot({
    kind: "expert", name: "slow", intelmq: "x", description: "", params: z.object({}),
    create: () => ({ async process(e: Event) { started(); await gate; return e; } }),
  });
  const broker = new MemoryBroker();
  const h = await startBot({ def: slow, botId: "s", params: { destination_queues: ["out"] }, broker, logger: log, window: 1 });
  for (let i = 1; i <= 3; i++) await broker.queues.publish("s-queue", encodeEnvelope([ev({ "source.ip": `192.0.2.${i}` })]));
  await inProcess;
  const stopped = h.stop();
  release();
  await stopped;
  assert.equal(await h.done, 0);
  assert.equal(await broker.queues.depth("out"), 1);
  assert.equal(await broker.queues.depth("s-queue"), 2);
  await broker.close();
});

test("pause stops pulling, resume goes on", async () => {
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: ["out"] }, broker, logger: log });
  await h.pause();
  assert.equal(h.stats().state, "paused");
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  await new Promise((r) => setImmediate(r));
  assert.equal(await broker.queues.depth("out"), 0);
  const s = nextSettled(h);
  await h.resume();
  await s;
  assert.equal(await broker.queues.depth("out"), 1);
  await h.stop();
  await broker.close();
});

test("reload swaps the parameters at a safe point and creates the bot again", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const broker = new MemoryBroker();
  const params = { tag: "a", destination_queues: ["out"] };
  const h = await startBot({ def: makeExpert(counter), botId: "ex", params, broker, logger: log });
  let s = nextSettled(h);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  await s;
  await h.reload({ ...params, tag: "b" });
  assert.equal(counter.shutdowns, 1);
  assert.equal(h.stats().state, "running");
  s = nextSettled(h);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  await s;
  assert.deepEqual((await drain(broker, "out")).map((e) => e["extra.tag"]), ["a", "b"]);
  await h.reload({ ...params, error_max_retries: "lots" });
  assert.equal(await h.done, 1);
  await broker.close();
});

test("scheduled expert: one envelope, then exit 0", async () => {
  const broker = new MemoryBroker();
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  await broker.queues.publish("ex-queue", encodeEnvelope([ev()]));
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { run_mode: "scheduled", destination_queues: ["out"] }, broker, logger: log });
  assert.equal(await h.done, 0);
  assert.equal(await broker.queues.depth("out"), 1);
  assert.equal(await broker.queues.depth("ex-queue"), 1);
  await broker.close();
});

test("output bot: export each event, flush, then ack", async () => {
  const order: string[] = [];
  const out = defineBot({
    kind: "output", name: "o", intelmq: "x", description: "", params: z.object({ n: p.int().default(0) }),
    create: () => ({ export(e: Event) { order.push(`export ${e.get("source.ip")}`); }, flush() { order.push("flush"); } }),
  });
  const broker = new MemoryBroker();
  const h = await startBot({ def: out, botId: "o", params: {}, broker, logger: log });
  const s = nextSettled(h);
  await broker.queues.publish("o-queue", encodeEnvelope([ev(), ev({ "source.ip": "192.0.2.2" })]));
  assert.equal((await s).outcome, "acked");
  assert.deepEqual(order, ["export 192.0.2.1", "export 192.0.2.2", "flush"]);
  await h.stop();
  await broker.close();
});

test("a configuration error at start: done resolves 1", async () => {
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { tag: 5 }, broker, logger: log });
  assert.equal(await h.done, 1);
  await assert.rejects(createLibraryBot(makeExpert(), { params: { unknown_strict: 1, tag: 5 } }), /test-bot.*"tag"/);
  await broker.close();
});

test("a JSON payload (Content-Type application/json) is accepted as input", async () => {
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(), botId: "ex", params: { destination_queues: ["out"] }, broker, logger: log });
  const s = nextSettled(h);
  await broker.queues.publish("ex-queue", new TextEncoder().encode(JSON.stringify([ev(), ev({ "source.ip": "192.0.2.7" })])), { headers: { "Content-Type": "application/json" } });
  assert.equal((await s).outcome, "acked");
  assert.deepEqual((await drain(broker, "out")).map((e) => e["source.ip"]), ["192.0.2.1", "192.0.2.7"]);
  await h.stop();
  await broker.close();
});

test("statistics: 'Processed N messages since last logging.' every log_processed_messages_count sends and at stop", async () => {
  const lines: string[] = [];
  const { Writable } = await import("node:stream");
  const stream = new Writable({ write(c, _e, cb) { for (const l of String(c).split("\n")) if (l.trim()) lines.push(JSON.parse(l).msg); cb(); } });
  const sinkLog = createLogger({ level: "INFO", destination: stream });
  const raw = b64("192.0.2.1\n192.0.2.2\n192.0.2.3");
  await runBot(lineParser, { params: { log_processed_messages_count: 2 }, input: [{ __type: "Report", raw }], log: sinkLog });
  const counts = lines.filter((l) => l.startsWith("Processed"));
  assert.deepEqual(counts, ["Processed 2 messages since last logging.", "Processed 1 messages since last logging."]);
  assert.ok(lines.includes("Sent 3 events and found 0 problem(s)."));
});

test("envelopes: batch_size events each, split in halves while over ENVELOPE_MAX_BYTES, the same every time", async () => {
  const { envelopes, ENVELOPE_MAX_BYTES } = await import("./index.js");
  const { Event: Ev } = await import("../message/index.js");
  const big = (i: number) => { const e = new Ev(); e.add("source.port", i + 1); e.add("comment", "x".repeat(4000)); return e; };
  const msgs = Array.from({ length: 1000 }, (_, i) => big(i));
  const a = [...envelopes(msgs, 1000)];
  assert.ok(a.length > 1, "4 MB of events do not fit one envelope");
  assert.ok(a.every((x) => x.bytes.byteLength <= ENVELOPE_MAX_BYTES));
  assert.deepEqual(a.flatMap((x) => x.chunk.map((m) => m.get("source.port"))), msgs.map((_, i) => i + 1), "all messages, in order");
  const b = [...envelopes(msgs, 1000)];
  assert.deepEqual(b.map((x) => x.chunk.length), a.map((x) => x.chunk.length), "deterministic");
  assert.deepEqual([...envelopes(msgs.slice(0, 10), 4)].map((x) => x.chunk.length), [4, 4, 2]);
});

test("a repeat of a completed message id (a sender's retry that a restarted server stored again) is only acknowledged", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(counter), botId: "ex", params: { destination_queues: { _default: ["out"] } }, broker, logger: log });
  for (const ip of ["192.0.2.1", "192.0.2.1", "192.0.2.2"]) {
    const s = nextSettled(h);
    // Stored twice under one id, as after a nats-server restart; the memory broker keeps both.
    await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": ip })]), { headers: { "Nats-Msg-Id": `up:${ip}` } });
    await s;
  }
  assert.equal(counter.calls, 2, "the repeat was not processed");
  assert.equal(await broker.queues.depth("ex-queue"), 0, "and acknowledged");
  assert.equal(await broker.queues.depth("out"), 2);
  await h.stop();
  await broker.close();
});

test("a sequence handed out again for another message (a crashed server's stream) is handled, not taken for completed", async () => {
  const counter = { calls: 0, shutdowns: 0 };
  const broker = new MemoryBroker();
  const h = await startBot({ def: makeExpert(counter), botId: "ex", params: { destination_queues: { _default: ["out"] } }, broker, logger: log });
  let s = nextSettled(h);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": "192.0.2.1" })]));
  assert.equal((await s).seq, 1);
  // The stream starts again at sequence 1, as a server that lost its tail would hand it out again.
  await broker.queues.delete("ex-queue");
  s = nextSettled(h);
  await broker.queues.publish("ex-queue", encodeEnvelope([ev({ "source.ip": "192.0.2.2" })]));
  const again = await s;
  assert.deepEqual(again, { seq: 1, outcome: "acked" });
  assert.equal(counter.calls, 2, "the second message was processed");
  const out = await broker.queues.consume("out");
  const it = out[Symbol.asyncIterator]();
  const ips: unknown[] = [];
  for (let i = 0; i < 2; i++) ips.push(...decodeEnvelope((await it.next()).value!.data).map((e) => e["source.ip"]));
  await out.stop();
  assert.deepEqual(ips, ["192.0.2.1", "192.0.2.2"]);
  await h.stop();
  await broker.close();
});

test("RecentSet: keys are forgotten after the window, and beyond max the oldest first", () => {
  const r = new RecentSet(1000, 2);
  r.add("a", 0);
  r.add("b", 500);
  assert.equal(r.has("a", 999), true);
  assert.equal(r.has("a", 1000), false, "expired");
  assert.equal(r.has("b", 1000), true);
  r.add("c", 1100);
  r.add("d", 1200);
  assert.equal(r.has("b", 1200), false, "pushed out by max");
  assert.equal(r.has("c", 1200) && r.has("d", 1200), true);
});
