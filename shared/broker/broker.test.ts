// SPDX-License-Identifier: AGPL-3.0-only
/** One behavioural suite, run against the memory broker and the JetStream broker alike. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { hasCode, ErrorCode } from "../errors/index.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { connectJetStream, MemoryBroker, type Broker, type Subscription } from "./index.js";
import { take, until } from "./testing.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface Fixture {
  /** A broker for the test (the same or a new connection to the same store). */
  broker(): Promise<Broker>;
}

let counter = 0;
const qname = (base: string) => `${base}-${process.pid}-${++counter}-queue`;

function behaviour(kind: string, setup: () => Promise<Fixture>, teardown: () => Promise<void>): void {
  describe(`broker behaviour (${kind})`, () => {
    let fx: Fixture;
    before(async () => { fx = await setup(); });
    after(teardown);

    test("publish, consume in order, ack", async () => {
      const b = await fx.broker();
      const q = qname("order");
      await b.queues.ensure(q);
      for (let i = 0; i < 5; i++) await b.queues.publish(q, enc(`m${i}`), { headers: { "X-N": String(i) } });
      assert.equal(await b.queues.depth(q), 5);
      const sub = await b.queues.consume(q, { maxInFlight: 10 });
      const it = sub[Symbol.asyncIterator]();
      const got = await take(it, 5);
      assert.deepEqual(got.map((d) => dec(d.data)), ["m0", "m1", "m2", "m3", "m4"]);
      assert.deepEqual(got.map((d) => d.headers["X-N"]), ["0", "1", "2", "3", "4"]);
      assert.ok(got.every((d) => d.deliveryCount === 1 && d.queue === q));
      for (let i = 1; i < got.length; i++) assert.ok(got[i]!.seq > got[i - 1]!.seq, "sequences increase");
      assert.equal(await b.queues.depth(q), 5, "held deliveries count in the depth");
      await Promise.all(got.map((d) => d.ack()));
      await until(async () => (await b.queues.depth(q)) === 0, 5000, "depth 0");
      await sub.stop();
    });

    test("nak redelivers the same message with deliveryCount 2", async () => {
      const b = await fx.broker();
      const q = qname("nak");
      await b.queues.publish(q, enc("again"));
      const sub = await b.queues.consume(q);
      const it = sub[Symbol.asyncIterator]();
      const [first] = await take(it, 1);
      assert.equal(first!.deliveryCount, 1);
      first!.nak();
      const [second] = await take(it, 1);
      assert.equal(second!.seq, first!.seq);
      assert.equal(second!.deliveryCount, 2);
      assert.equal(dec(second!.data), "again");
      await second!.ack();
      await until(async () => (await b.queues.depth(q)) === 0, 5000, "depth 0");
      await sub.stop();
    });

    test("nak with a delay redelivers later; term never redelivers", async () => {
      const b = await fx.broker();
      const q = qname("delay");
      await b.queues.publish(q, enc("late"));
      await b.queues.publish(q, enc("dead"));
      const sub = await b.queues.consume(q);
      const it = sub[Symbol.asyncIterator]();
      const [late, dead] = await take(it, 2);
      late!.nak(300);
      dead!.term();
      const [again] = await take(it, 1);
      assert.equal(dec(again!.data), "late");
      assert.equal(again!.deliveryCount, 2);
      await again!.ack();
      await until(async () => (await b.queues.depth(q)) === 0, 5000, "depth 0");
      await sub.stop();
    });

    test("a repeated msgId within the window is dropped", async () => {
      const b = await fx.broker();
      const q = qname("dedup");
      await b.queues.publish(q, enc("one"), { msgId: "src:1:_default:x:0" });
      await b.queues.publish(q, enc("one again"), { msgId: "src:1:_default:x:0" });
      await b.queues.publish(q, enc("two"), { msgId: "src:2:_default:x:0" });
      assert.equal(await b.queues.depth(q), 2);
      const sub = await b.queues.consume(q);
      const got = await take(sub[Symbol.asyncIterator](), 2);
      assert.deepEqual(got.map((d) => dec(d.data)), ["one", "two"]);
      await Promise.all(got.map((d) => d.ack()));
      await sub.stop();
    });

    test("two subscribers on one queue split the messages, none delivered to both", async () => {
      const b1 = await fx.broker();
      const b2 = await fx.broker();
      const q = qname("split");
      await b1.queues.ensure(q);
      const n = 200;
      const seen = [new Set<string>(), new Set<string>()];
      const all = new Set<string>();
      let dupes = 0;
      const run = async (sub: Subscription, mine: Set<string>) => {
        for await (const d of sub) {
          const s = dec(d.data);
          if (all.has(s)) dupes++;
          all.add(s);
          mine.add(s);
          await sleep(1); // slow enough that both take turns
          await d.ack();
          if (all.size >= n) break;
        }
      };
      const s1 = await b1.queues.consume(q, { maxInFlight: 5 });
      const s2 = await b2.queues.consume(q, { maxInFlight: 5 });
      const r1 = run(s1, seen[0]!);
      const r2 = run(s2, seen[1]!);
      await Promise.all(Array.from({ length: n }, (_, i) => b1.queues.publish(q, enc(`s${i}`))));
      await until(() => all.size >= n, 20000, "all messages");
      await s1.stop();
      await s2.stop();
      await Promise.all([r1, r2]);
      assert.equal(dupes, 0, "no message delivered twice");
      assert.equal(all.size, n);
      assert.ok(seen[0]!.size > 0 && seen[1]!.size > 0, `both subscribers got messages (${seen[0]!.size}/${seen[1]!.size})`);
      for (const s of seen[0]!) assert.ok(!seen[1]!.has(s), `${s} went to both`);
      await until(async () => (await b1.queues.depth(q)) === 0, 5000, "depth 0");
    });

    test("depth counts waiting and held; purge empties the queue", async () => {
      const b = await fx.broker();
      const q = qname("depth");
      for (let i = 0; i < 6; i++) await b.queues.publish(q, enc(`d${i}`));
      const sub = await b.queues.consume(q, { maxInFlight: 2 });
      const it = sub[Symbol.asyncIterator]();
      const held = await take(it, 2);
      assert.equal(await b.queues.depth(q), 6);
      await held[0]!.ack();
      await until(async () => (await b.queues.depth(q)) === 5, 5000, "depth 5");
      await sub.stop();
      held[1]!.nak();
      assert.equal(await b.queues.purge(q), 5);
      assert.equal(await b.queues.depth(q), 0);
      assert.equal(await b.queues.purge(q), 0);
    });

    test("stop() leaves held deliveries valid", async () => {
      const b = await fx.broker();
      const q = qname("stop");
      await b.queues.publish(q, enc("x"));
      await b.queues.publish(q, enc("y"));
      const sub = await b.queues.consume(q, { maxInFlight: 1 });
      const [d] = await take(sub[Symbol.asyncIterator](), 1);
      await sub.stop();
      await d!.ack();
      await until(async () => (await b.queues.depth(q)) === 1, 5000, "depth 1");
      // The other message is still there for the next subscriber.
      const sub2 = await b.queues.consume(q);
      const [e] = await take(sub2[Symbol.asyncIterator](), 1);
      assert.equal(dec(e!.data), "y");
      await e!.ack();
      await sub2.stop();
    });

    test("listQueues names the queues", async () => {
      const b = await fx.broker();
      const q1 = qname("list-a");
      const q2 = qname("list-b");
      await b.queues.ensure(q1);
      await b.queues.ensure(q2);
      const qs = await b.queues.list();
      assert.ok(qs.includes(q1) && qs.includes(q2), JSON.stringify(qs));
    });

    test("dumps are stored, read per bot, deleted", async () => {
      const b = await fx.broker();
      const bot = `dumper-${process.pid}-${++counter}`;
      const other = `${bot}-other`;
      const base = { source_queue: `${bot}-queue`, traceback: ["Traceback", "ValueError: x"], message: '{"raw":"eA=="}', timestamp: "2024-01-02T03:04:05.000000" };
      await b.dumps.store({ ...base, bot_id: bot });
      await b.dumps.store({ ...base, bot_id: other, traceback: "line failed", message_type: "base64" });
      await b.dumps.store({ ...base, bot_id: bot, message: '{"raw":"eQ=="}' });
      const mine = await b.dumps.read(bot);
      assert.equal(mine.length, 2);
      assert.deepEqual(mine.map((d) => d.message), ['{"raw":"eA=="}', '{"raw":"eQ=="}']);
      assert.ok(mine[0]!.seq < mine[1]!.seq);
      assert.deepEqual(mine[0]!.traceback, ["Traceback", "ValueError: x"]);
      const theirs = await b.dumps.read(other);
      assert.equal(theirs.length, 1);
      assert.equal(theirs[0]!.message_type, "base64");
      assert.equal(theirs[0]!.traceback, "line failed");
      const everyone = await b.dumps.read();
      assert.ok(everyone.filter((d) => d.bot_id === bot || d.bot_id === other).length === 3);
      assert.equal(await b.dumps.delete(mine[0]!.seq), true);
      assert.equal(await b.dumps.delete(mine[0]!.seq), false);
      assert.deepEqual((await b.dumps.read(bot)).map((d) => d.seq), [mine[1]!.seq]);
      assert.deepEqual(await b.dumps.read(`${bot}-none`), []);
    });

    test("KV cache: create is atomic, get, put, delete, TTL", async () => {
      const b = await fx.broker();
      const kv = await b.kv.open(`cache-${process.pid}-${++counter}`, 1);
      assert.equal(await kv.create("k1", "v1"), true);
      assert.equal(await kv.create("k1", "other"), false);
      assert.equal(await kv.get("k1"), "v1");
      assert.equal(await kv.get("missing"), null);
      await kv.put("k2", "v2");
      assert.equal(await kv.get("k2"), "v2");
      await kv.delete("k2");
      assert.equal(await kv.get("k2"), null);
      assert.equal(await kv.create("k2", "v2b"), true, "create after delete");
      // Concurrent creates: exactly one wins.
      const wins = await Promise.all(Array.from({ length: 5 }, (_, i) => kv.create("race", `r${i}`)));
      assert.equal(wins.filter(Boolean).length, 1);
      await sleep(2500);
      assert.equal(await kv.get("k1"), null, "expired after the TTL");
      assert.equal(await kv.create("k1", "v1 again"), true, "create after expiry");
      assert.equal(await kv.get("k1"), "v1 again");
    });

    test("request/reply: every server of a subject answers requestMany, one answers request", async () => {
      const a = await fx.broker();
      const b = await fx.broker();
      const subject = `intelmq.control.test.${process.pid}.${++counter}.status`;
      const s1 = await a.control.serve(subject, (d) => enc(`one:${dec(d)}`));
      const s2 = await b.control.serve(subject.replace(/\.status$/, ".*"), (d, subj) => enc(`two:${dec(d)}:${subj.split(".").pop()}`));
      const failing = await a.control.serve(subject, () => { throw new Error("no answer from me"); });
      const many = (await a.control.requestMany(subject, enc("x"), 300)).map(dec).sort();
      assert.deepEqual(many, ["one:x", "two:x:status"]);
      assert.match(dec(await b.control.request(subject, enc("y"), 2000)), /^(one:y|two:y:status)$/);
      await s1.stop(); await s2.stop(); await failing.stop();
      assert.deepEqual(await a.control.requestMany(subject, enc("z"), 200), [], "nobody answers any more");
      await assert.rejects(a.control.request(subject, enc("z"), 200), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
    });

    test("KV entries list live keys by prefix; queueInfo and serverInfo", async () => {
      const b = await fx.broker();
      const kv = await b.kv.open(`hb${process.pid}x${++counter}`, 60);
      await kv.put("bot-a.h-1", "1");
      await kv.put("bot-a.h-2", "2");
      await kv.put("bot-b.h-1", "3");
      await kv.delete("bot-a.h-2");
      assert.deepEqual([...(await kv.entries("bot-a."))], [["bot-a.h-1", "1"]]);
      assert.equal((await kv.entries()).size, 2);
      const short = await b.kv.open(`hb${process.pid}s${++counter}`, 1);
      await short.put("bot-c.h-1", "gone soon");
      assert.equal((await short.entries()).size, 1);
      await until(async () => (await short.entries()).size === 0, 5000, "the entry to expire");
      const q = qname("info");
      assert.deepEqual(await b.queues.info(q), { depth: 0, exists: false, archived: false, stored: 0 });
      await b.queues.publish(q, enc("1"));
      await b.queues.publish(q, enc("2"));
      assert.deepEqual(await b.queues.info(q), { depth: 2, exists: true, archived: false, stored: 2 });
      assert.ok(b.serverInfo().version.length > 0);
    });

    test("openCache opens only what exists; deleteCache and deleteQueue remove everything, message ids included", async () => {
      const b = await fx.broker();
      const name = `oc${process.pid}x${++counter}`;
      assert.equal(await b.kv.openExisting(name), null, "nothing is created");
      assert.equal(await b.kv.openExisting(name), null);
      const kv = await b.kv.open(name, 60);
      await kv.put("a", "1");
      await kv.put("b", "2");
      const opened = await b.kv.openExisting(name);
      assert.ok(opened);
      assert.equal(await opened.get("a"), "1");
      assert.equal(await opened.size(), 2);
      assert.equal(await b.kv.delete(name), true);
      assert.equal(await b.kv.openExisting(name), null);
      assert.equal(await b.kv.delete(name), false);

      const q = qname("delete");
      await b.queues.publish(q, enc("1"), { msgId: "same" });
      await b.queues.publish(q, enc("1"), { msgId: "same" });
      assert.equal(await b.queues.depth(q), 1, "the repeat was dropped");
      assert.equal(await b.queues.delete(q), true);
      assert.deepEqual(await b.queues.info(q), { depth: 0, exists: false, archived: false, stored: 0 });
      await b.queues.publish(q, enc("1"), { msgId: "same" });
      assert.equal(await b.queues.depth(q), 1, "the queue made again forgot the message ids of the deleted one");
      assert.equal(await b.queues.delete(qname("never")), false);
    });

    test("log lines: the last max of one bot, oldest first, read from any connection", async () => {
      const w = await fx.broker();
      const r = await fx.broker();
      const a = `logbot-a-${process.pid}-${++counter}`;
      const other = `logbot-b-${process.pid}-${++counter}`;
      for (let i = 1; i <= 5; i++) w.logs.append(a, `{"level":"info","msg":"a${i}"}\n`);
      w.logs.append(other, `{"level":"info","msg":"b1"}`);
      await until(async () => (await r.logs.read(a, Infinity)).length === 5, 5000, "five lines of bot a");
      assert.deepEqual(await r.logs.read(a, Infinity), [1, 2, 3, 4, 5].map((i) => `{"level":"info","msg":"a${i}"}`), "trailing newline dropped");
      assert.deepEqual(await r.logs.read(a, 2), ['{"level":"info","msg":"a4"}', '{"level":"info","msg":"a5"}']);
      await until(async () => (await r.logs.read(other, 10)).length === 1, 5000, "the line of bot b");
      assert.deepEqual(await r.logs.read(other, 10), ['{"level":"info","msg":"b1"}']);
      assert.deepEqual(await r.logs.read(`nobody-${process.pid}`, 10), []);
      assert.deepEqual(await r.logs.read(a, 0), []);
    });

    test("appendLog never throws into the caller (bad bot id, huge line) and keeps working", async () => {
      const b = await fx.broker();
      const id = `logbot-c-${process.pid}-${++counter}`;
      assert.doesNotThrow(() => b.logs.append("", "no bot"));
      assert.doesNotThrow(() => b.logs.append(id, "x".repeat(3 * 1024 * 1024)));
      b.logs.append(id, "after");
      await until(async () => (await b.logs.read(id, 10)).includes("after"), 5000, "the line after the huge one");
    });

    test("replay: what an archived queue received comes back, oldest first, once per window, by time range and into another queue", async () => {
      const b = await fx.broker();
      const q = qname("archived");
      const other = qname("replay-into");
      const plain = qname("not-archived");
      await b.queues.ensure(q, { archive: true });
      await b.queues.ensure(plain);
      const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
      await b.queues.publish(q, enc("r1"), { msgId: "c:1", headers: { "Content-Type": "application/json" } });
      await b.queues.publish(q, big, { msgId: "c:2" });
      await b.queues.publish(plain, enc("never archived"));
      await sleep(30);
      const between = new Date();
      await sleep(30);
      await b.queues.publish(q, enc("r3"), { msgId: "c:3" });
      // Processed and gone from the queue; the archive keeps them.
      const sub = await b.queues.consume(q);
      for (const d of await take(sub[Symbol.asyncIterator](), 3)) await d.ack();
      await sub.stop();
      await until(async () => (await b.queues.depth(q)) === 0, 5000, "the queue to drain");

      const dry = await b.archive.replay(q, { until: between, dryRun: true });
      assert.equal(dry.replayed, 2);
      assert.equal(await b.queues.depth(q), 0, "a dry run publishes nothing");

      const all = await b.archive.replay(q);
      assert.deepEqual([all.replayed, all.duplicates, all.missing], [3, 0, 0]);
      assert.ok(all.firstSeq !== null && all.lastSeq !== null && all.lastSeq > all.firstSeq);
      assert.equal(await b.queues.depth(q), 3);
      const again = await b.archive.replay(q);
      assert.deepEqual([again.replayed, again.duplicates], [0, 3], "the same replay within the duplicate window adds nothing");
      assert.equal(await b.queues.depth(q), 3);

      const sub2 = await b.queues.consume(q);
      const got = await take(sub2[Symbol.asyncIterator](), 3);
      assert.equal(dec(got[0]!.data), "r1");
      assert.equal(got[0]!.headers["Content-Type"], "application/json", "the original headers travel along");
      assert.equal(got[0]!.headers["Intelmq-Replay"], String(all.firstSeq));
      assert.deepEqual(got[1]!.data, big, "large payloads are replayed too");
      assert.equal(dec(got[2]!.data), "r3");
      for (const d of got) await d.ack();
      await sub2.stop();

      const late = await b.archive.replay(q, { since: between, target: other });
      assert.equal(late.target, other);
      assert.equal(late.replayed, 1);
      const sub3 = await b.queues.consume(other);
      assert.deepEqual((await take(sub3[Symbol.asyncIterator](), 1)).map((d) => dec(d.data)), ["r3"]);
      await sub3.stop();

      assert.equal((await b.archive.replay(plain)).replayed, 0, "a queue without archiving has nothing to replay");
    });

    test("peek shows the next message without taking it; null for an empty or unknown queue", async () => {
      const b = await fx.broker();
      const q = qname("peek");
      assert.equal(await b.queues.peek(q), null);
      await b.queues.ensure(q);
      assert.equal(await b.queues.peek(q), null);
      await b.queues.publish(q, enc("first"), { headers: { "Content-Type": "application/json" } });
      await b.queues.publish(q, enc("second"));
      const p1 = await b.queues.peek(q);
      assert.equal(dec(p1!.data), "first");
      assert.equal(p1!.headers["Content-Type"], "application/json");
      assert.equal(await b.queues.depth(q), 2, "nothing was taken");
      const sub = await b.queues.consume(q, { maxInFlight: 1 });
      const [d] = await take(sub[Symbol.asyncIterator](), 1);
      await d!.ack();
      await sub.stop();
      assert.equal(dec((await b.queues.peek(q))!.data), "second");
    });

    test("state is connected", async () => {
      const b = await fx.broker();
      assert.equal(b.state, "connected");
    });
  });
}

// ---- memory ----
{
  let mem: MemoryBroker;
  behaviour("memory", async () => {
    mem = new MemoryBroker();
    return { broker: async () => mem };
  }, async () => { await mem.close(); });
}

// ---- JetStream ----
{
  let server: NatsServer;
  const opened: Broker[] = [];
  behaviour("jetstream", async () => {
    server = await startNatsServer();
    return {
      broker: async () => {
        const b = await connectJetStream({ servers: server.url });
        opened.push(b);
        return b;
      },
    };
  }, async () => {
    for (const b of opened) await b.close();
    await server.stop();
  });
}

describe("memory broker specifics", () => {
  test("closing returns held deliveries to their queue and refuses new work", async () => {
    const b = new MemoryBroker();
    await b.queues.publish("q", enc("a"));
    const sub = await b.queues.consume("q");
    await take(sub[Symbol.asyncIterator](), 1);
    const states: string[] = [];
    b.onState((s) => states.push(s));
    await b.close();
    assert.equal(b.state, "closed");
    assert.deepEqual(states, ["closed"]);
    assert.equal(await b.queues.depth("q"), 1);
    await assert.rejects(b.queues.publish("q", enc("b")), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
  });

  test("log lines: at most 10000 per bot (the oldest go), none after close", async () => {
    const b = new MemoryBroker();
    for (let i = 0; i < 10_005; i++) b.logs.append("busy", `l${i}`);
    const all = await b.logs.read("busy", Infinity);
    assert.equal(all.length, 10_000);
    assert.equal(all[0], "l5");
    assert.equal(all.at(-1), "l10004");
    await b.close();
    assert.doesNotThrow(() => b.logs.append("busy", "late"));
    assert.equal((await b.logs.read("busy", 1))[0], "l10004");
  });

  test("a full queue pushes back with BrokerUnavailableError", async () => {
    const b = new MemoryBroker();
    await b.queues.ensure("small", { maxBytes: 10 });
    await b.queues.publish("small", enc("12345678"));
    await assert.rejects(b.queues.publish("small", enc("123")), (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable));
    await b.close();
  });

  test("maxInFlight bounds what one subscriber holds", async () => {
    const b = new MemoryBroker();
    for (let i = 0; i < 10; i++) await b.queues.publish("w", enc(String(i)));
    const sub = await b.queues.consume("w", { maxInFlight: 3 });
    const it = sub[Symbol.asyncIterator]();
    const first = await take(it, 3);
    await assert.rejects(take(it, 1, 100), /timed out/);
    await first[0]!.ack();
    const [next] = await take(it, 1);
    assert.equal(dec(next!.data), "3");
    await b.close();
  });
});
