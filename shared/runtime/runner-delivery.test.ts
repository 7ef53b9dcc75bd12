// SPDX-License-Identifier: AGPL-3.0-only
/** The runtime's deliveries: load balancing, message ids, publish failures, stop, pause, reload, outputs, statistics. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { MemoryBroker, type Delivery } from "../broker/index.js";
import { encodeEnvelope, type Event, type Report, decodeEnvelope } from "../message/index.js";
import { createLibraryBot, createLogger, defineBot, p, runBot, startBot, type SettledInfo, parserParams } from "./index.js";
import { RecentSet } from "./util.js";
import { FakeClock, turns, onMemory, log, ev, b64, makeExpert, RecordingBroker, nextSettled, waitFor, drain, take, lineParser } from "./runner-fixtures.js";

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

test("envelopes: batch_size events each, packed in chunks, split before ENVELOPE_MAX_BYTES, the same every time", async () => {
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

test("chunked envelopes: an expert takes them a chunk at a time; a chunk that cannot be read is dumped and the others go on, numbered as before", async () => {
  const { encodeChunk, joinChunks, envelopeChunks } = await import("../message/index.js");
  const origins: string[] = [];
  const def = defineBot({
    kind: "expert", name: "origins", intelmq: "test.origins", description: "", params: z.object({}),
    create: () => ({ process(e: Event, meta: { origin: string }) { origins.push(`${String(e.get("source.ip"))}@${meta.origin.split(":").pop()}`); return e; } }),
  });
  await onMemory(async (broker, start) => {
    const h = await start({ def, botId: "chunks", params: { destination_queues: ["out"] } });
    const bad = new Uint8Array([0x92, 0x01, 0x02]); // an array of numbers, not of messages
    const input = joinChunks([
      encodeChunk([ev({ "source.ip": "192.0.2.1" }), ev({ "source.ip": "192.0.2.2" })]), bad, encodeChunk([ev({ "source.ip": "192.0.2.3" })]),
    ]);
    const dumps: unknown[] = [];
    h.on("dump", (d) => dumps.push(d));
    const settled = nextSettled(h);
    await broker.queues.publish("chunks-queue", input);
    assert.equal((await settled).outcome, "acked");
    assert.deepEqual(origins, ["192.0.2.1@0", "192.0.2.2@1", "192.0.2.3@2"]);
    assert.equal(dumps.length, 1, "the unreadable chunk");
    assert.deepEqual((await drain(broker, "out")).map((m) => m["source.ip"]), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    // 250 events go out as one envelope of chunks, decoded in order
    const many = Array.from({ length: 250 }, (_, i) => ev({ "source.ip": `198.51.100.${i % 250}`, "source.port": i + 1 }));
    const settledMany = nextSettled(h);
    await broker.queues.publish("chunks-queue", encodeEnvelope(many));
    assert.equal((await settledMany).outcome, "acked");
    const sub = await broker.queues.consume("out");
    const [d] = await take(sub, 1);
    await sub.stop();
    assert.equal(envelopeChunks(d!.data)?.length, 3, "chunks of 100, 100 and 50");
    assert.deepEqual(decodeEnvelope(d!.data).map((m) => m["source.port"]), many.map((_, i) => i + 1));
  });
});

test("envelopes: a report with a raw that travels framed goes in an envelope of its own", async () => {
  const { envelopes } = await import("./index.js");
  const { Report: Rep, Event: Ev, frameLayout, FRAME_RAW_MIN } = await import("../message/index.js");
  const small = (i: number) => { const e = new Ev(); e.add("source.port", i); return e; };
  const big = new Rep();
  big.add("raw", Buffer.alloc(FRAME_RAW_MIN).toString("base64"), { sanitize: false });
  const out = envelopes([small(1), small(2), big as never, small(3)], 1000);
  assert.deepEqual(out.map((x) => x.chunk.length), [2, 1, 1]);
  assert.ok(frameLayout(out[1]!.bytes), "framed");
  assert.equal(frameLayout(out[0]!.bytes), null);
});

test("output bot: a flush given up on dumps each event of a chunked input once, read again from the input", async () => {
  const { encodeChunk, joinChunks } = await import("../message/index.js");
  const out = defineBot({
    kind: "output", name: "o", intelmq: "x", description: "", params: z.object({}),
    create: () => ({
      export(e: Event) { if (e.get("source.port") === 7) throw new Error("no port 7"); },
      flush() { throw new Error("disk gone"); },
    }),
  });
  await onMemory(async (broker, start) => {
    const h = await start({ def: out, botId: "o", params: { error_max_retries: 0 } });
    const dumps: { message: unknown }[] = [];
    h.on("dump", (d) => dumps.push(d as { message: unknown }));
    const events = Array.from({ length: 150 }, (_, i) => ev({ "source.port": i + 1 }));
    const s = nextSettled(h);
    await broker.queues.publish("o-queue", joinChunks([encodeChunk(events.slice(0, 100)), encodeChunk(events.slice(100))]));
    assert.equal((await s).outcome, "acked");
    const ports = dumps.map((d) => JSON.parse(String(d.message))["source.port"] as number).sort((a, b) => a - b);
    assert.deepEqual(ports, events.map((_, i) => i + 1), "every event dumped once: port 7 for its export, the rest for the flush");
  });
});
