// SPDX-License-Identifier: AGPL-3.0-only
/** The runtime's collector rounds: feed fields, ids, archiving, rate_limit, commit after confirmation. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { z } from "zod";
import { BrokerUnavailableError } from "../errors/index.js";
import { MemoryBroker, type QueueSettings } from "../broker/index.js";
import { Event, Report, decodeEnvelope } from "../message/index.js";
import { defineBot, runBot, startBot, collectorParams, ReportStream } from "./index.js";
import { FakeClock, turns, onMemory, log, RecordingBroker, waitFor } from "./runner-fixtures.js";

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

test("collector, streaming: pushed reports are queued and settled one by one; stopping ends the round", async () => {
  const stream = new ReportStream();
  let created = false;
  const bot = defineBot({
    kind: "collector", name: "push-collector", intelmq: "test.push", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: (_p, ctx) => {
      created = ctx.botId === "push";
      return {
        streaming: true,
        collect: (signal: AbortSignal) => stream.drain(signal),
        queued: (r: Report) => stream.queued(r),
        failed: (r: Report, err: unknown) => stream.failed(r, err),
      };
    },
  });
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "push", params: { destination_queues: "out", name: "Pushed" }, broker, logger: log });
  const settled: string[] = [];
  for (const text of ["one", "two", "three", "two"]) {
    const r = new Report(null);
    r.add("raw", text);
    const done = new Promise<void>((resolve) => {
      stream.push(r, { queued: () => { settled.push(`queued ${text}`); resolve(); }, failed: () => { settled.push(`failed ${text}`); resolve(); } });
    });
    await done;
    assert.equal(await broker.queues.depth("out"), settled.length, "settled only once stored");
  }
  assert.deepEqual(settled, ["queued one", "queued two", "queued three", "queued two"], "the same content pushed twice is two reports");
  assert.ok(created);
  await h.stop();
  assert.equal(h.stats().state, "stopped");
  assert.equal(await h.done, 0);
  await broker.close();
});

test("collector, streaming: stopping ends the round without idling rate_limit first", { timeout: 20_000 }, async () => {
  const stream = new ReportStream();
  const bot = defineBot({
    kind: "collector", name: "push-collector", intelmq: "test.push", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: () => ({ streaming: true, collect: (signal: AbortSignal) => stream.drain(signal) }),
  });
  const broker = new MemoryBroker();
  const h = await startBot({ def: bot, botId: "push", params: { destination_queues: "out", rate_limit: 3600 }, broker, logger: log });
  const stopped = h.stop().then(() => "stopped");
  const hour = new Promise<string>((r) => setTimeout(() => r("still idling"), 5_000).unref());
  assert.equal(await Promise.race([stopped, hour]), "stopped");
  assert.equal(await h.done, 0);
  await broker.close();
});

test("collector: the same content twice in a round is two reports; a repeated round adds neither again", async () => {
  let rounds = 0;
  const bot = defineBot({
    kind: "collector", name: "twice", intelmq: "test.twice", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: () => ({
      *collect() {
        rounds++;
        for (const text of ["same", "other", "same"]) { const r = new Report(null); r.add("raw", text); yield r; }
        if (rounds === 1) throw new Error("the round fails after its reports were stored");
      },
    }),
  });
  const broker = new RecordingBroker();
  const h = await startBot({ def: bot, botId: "twice", params: { run_mode: "scheduled", destination_queues: "q", error_max_retries: 1, error_retry_delay: 0 }, broker, logger: log });
  assert.equal(await h.done, 0);
  assert.equal(rounds, 2);
  assert.equal(await broker.queues.depth("q"), 3, "same, other, same: the retried round stored nothing twice");
  const hash = createHash("sha256").update(Buffer.from("same").toString("base64")).digest("hex");
  assert.deepEqual(broker.ids.slice(0, 3).map((x) => String(x.id)).filter((id) => id.includes(hash)), [`twice:${hash}:0`, `twice:${hash}:0.1`]);
  await broker.close();
});

test("collector: an Event it yields is sent as it is (no raw needed, no feed.*), with the message id the collector names", async () => {
  const broker = new RecordingBroker();
  const bridge = defineBot({
    kind: "collector", name: "events", intelmq: "test.events", description: "",
    params: z.object({ ...collectorParams }).strict(),
    create: (_p, ctx) => ({
      messageId: (m) => (m.kind === "Event" ? `ev-${String(m.get("source.ip"))}` : undefined),
      collect() {
        const e = ctx.newEvent();
        e.add("source.ip", "192.0.2.1");
        const r = ctx.newReport();
        r.add("raw", "test");
        return [e, r];
      },
    }),
  });
  const h = await startBot({ def: bridge, botId: "coll", params: { run_mode: "scheduled", destination_queues: "q1", name: "F" }, broker, logger: log });
  assert.equal(await h.done, 0);
  const hash = createHash("sha256").update("dGVzdA==").digest("hex");
  assert.deepEqual(broker.ids, [{ queue: "q1", id: "coll:ev-192.0.2.1" }, { queue: "q1", id: `coll:${hash}:0` }]);
  const sub = await broker.queues.consume("q1");
  const it = sub[Symbol.asyncIterator]();
  const got: Record<string, unknown>[] = [];
  for (let i = 0; i < 2; i++) {
    const d = (await it.next()).value!;
    got.push(...decodeEnvelope(d.data));
    await d.ack();
  }
  await sub.stop();
  assert.deepEqual(got.map((m) => [m.__type, m["feed.name"]]), [["Event", undefined], ["Report", "F"]]);
  await broker.close();
});
