// SPDX-License-Identifier: AGPL-3.0-only
/** Queues: publish, consume, ack, nak, term, depth, purge, peek, delete, the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { ErrorCode, hasCode } from "../../errors/index.js";
import { decodeEnvelope, encodeEnvelope } from "../../message/index.js";
import { DEFAULTS, type Subscription } from "../index.js";
import { take, until } from "../testing.js";
import { conformance, dec, enc, qname } from "./harness.js";

conformance("queues", (fx) => {
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

  test("a report with a large raw arrives as its head, its raw streamed in pieces; the bytes decode whole elsewhere", async () => {
    const b = await fx.broker();
    const q = qname("framed");
    const raw = randomBytes(3 * 1024 * 1024 + 5);
    const report = { __type: "Report", "feed.name": "Big", raw: raw.toString("base64") };
    const bytes = encodeEnvelope([report]);
    assert.deepEqual(decodeEnvelope(bytes), [report], "a reader of whole envelopes gets the report back");
    await b.queues.publish(q, bytes, { msgId: "framed:1" });
    // A subscriber that does not ask for streaming gets it whole.
    const whole = await b.queues.consume(q, { maxInFlight: 1 });
    const [w] = await take(whole[Symbol.asyncIterator](), 1, 30000);
    assert.equal(w!.raw, undefined);
    assert.deepEqual(decodeEnvelope(w!.data), [report]);
    w!.nak();
    await whole.stop();
    const sub = await b.queues.consume(q, { streamRaw: true });
    const [d] = await take(sub[Symbol.asyncIterator](), 1, 30000);
    assert.ok(d!.raw, "the raw is streamed");
    assert.equal(d!.raw.size, raw.length);
    assert.deepEqual(decodeEnvelope(d!.data), [{ __type: "Report", "feed.name": "Big" }], "data is the head");
    const pieces: Uint8Array[] = [];
    for await (const c of d!.raw.chunks()) pieces.push(c);
    assert.ok(pieces.length > 1 && pieces.every((c) => c.length <= 1024 * 1024), "read a piece at a time");
    assert.ok(Buffer.concat(pieces).equals(raw), "the same bytes");
    // Read again from the start: a retried parse reads the report anew.
    let again = 0;
    for await (const c of d!.raw.chunks()) again += c.length;
    assert.equal(again, raw.length);
    await d!.ack();
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

  test("queueInfo and serverInfo", async () => {
    const b = await fx.broker();
    const q = qname("info");
    assert.deepEqual(await b.queues.info(q), { depth: 0, exists: false, archived: false, stored: 0, bytes: 0, maxBytes: null, maxMsgs: null });
    await b.queues.publish(q, enc("1"));
    await b.queues.publish(q, enc("2"));
    const { bytes, replicas, ackPending, ...info } = await b.queues.info(q);
    assert.deepEqual(info, { depth: 2, exists: true, archived: false, stored: 2, maxBytes: DEFAULTS.maxBytes, maxMsgs: null });
    // what only a server knows: replicas of the stream, deliveries not yet acknowledged
    assert.ok(replicas === undefined || replicas === 1, `replicas ${replicas}`);
    assert.ok(ackPending === undefined || ackPending === 0, `ackPending ${ackPending}`);
    assert.ok(bytes >= 2, `the bytes it holds (${bytes})`);
    assert.ok(b.serverInfo().version.length > 0);
  });

  test("delete removes a queue and everything of it, message ids included", async () => {
    const b = await fx.broker();
    const q = qname("delete");
    await b.queues.publish(q, enc("1"), { msgId: "same" });
    await b.queues.publish(q, enc("1"), { msgId: "same" });
    assert.equal(await b.queues.depth(q), 1, "the repeat was dropped");
    assert.equal(await b.queues.delete(q), true);
    assert.deepEqual(await b.queues.info(q), { depth: 0, exists: false, archived: false, stored: 0, bytes: 0, maxBytes: null, maxMsgs: null });
    await b.queues.publish(q, enc("1"), { msgId: "same" });
    assert.equal(await b.queues.depth(q), 1, "the queue made again forgot the message ids of the deleted one");
    assert.equal(await b.queues.delete(qname("never")), false);
  });

  test("a queue's max_msgs and max_bytes refuse with BrokerUnavailableError until acks make room; explicit settings change them, a lower one only while it holds at most half", async () => {
    const b = await fx.broker();
    const q = qname("limits");
    const full = (what: RegExp) => (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable) && what.test(String(e));
    await b.queues.ensure(q, { maxMsgs: 2 });
    await b.queues.publish(q, enc("a"), { msgId: "l1" });
    await b.queues.publish(q, enc("b"), { msgId: "l2" });
    await assert.rejects(b.queues.publish(q, enc("c"), { msgId: "l3" }), full(/maximum messages/));
    let info = await b.queues.info(q);
    assert.equal(info.maxMsgs, 2);
    assert.equal(info.maxBytes, DEFAULTS.maxBytes);
    assert.equal(info.stored, 2);
    assert.ok(info.bytes >= 2);
    // An ack makes room; the refused id goes through then, once.
    const sub = await b.queues.consume(q);
    const it = sub[Symbol.asyncIterator]();
    const [first] = await take(it, 1);
    await first!.ack();
    await until(async () => (await b.queues.info(q)).stored === 1, 5000, "the acked message gone");
    await b.queues.publish(q, enc("c"), { msgId: "l3" });
    await sub.stop();
    // Raised at once; a plain ensure (no settings) changes nothing.
    await b.queues.ensure(q, { maxMsgs: 4 });
    await b.queues.ensure(q);
    assert.equal((await b.queues.info(q)).maxMsgs, 4);
    await b.queues.publish(q, enc("d"), { msgId: "l4" });
    // Lowered below what it holds: nothing is deleted and the old limit stays.
    await b.queues.ensure(q, { maxMsgs: 1 });
    info = await b.queues.info(q);
    assert.equal(info.stored, 3, "nothing deleted");
    assert.equal(info.maxMsgs, 4);
    // Drained, the lower limit is applied.
    const drain = await b.queues.consume(q);
    const got = await take(drain[Symbol.asyncIterator](), 3);
    assert.deepEqual(got.map((d) => dec(d.data)).sort(), ["b", "c", "d"]);
    await Promise.all(got.map((d) => d.ack()));
    await drain.stop();
    await until(async () => (await b.queues.info(q)).stored === 0, 5000, "drained");
    await b.queues.ensure(q, { maxMsgs: 1, maxBytes: 1000 });
    info = await b.queues.info(q);
    assert.equal(info.maxMsgs, 1);
    assert.equal(info.maxBytes, 1000);
    // Explicit settings are the whole settings: max_msgs unset is none again, max_bytes bounds it.
    await b.queues.ensure(q, { maxBytes: 1000 });
    assert.equal((await b.queues.info(q)).maxMsgs, null);
    await b.queues.publish(q, new Uint8Array(600), { msgId: "big1" });
    await assert.rejects(b.queues.publish(q, new Uint8Array(600), { msgId: "big2" }), full(/maximum bytes/));
    assert.equal((await b.queues.info(q)).stored, 1);
  });
});
