// SPDX-License-Identifier: AGPL-3.0-only
/** JetStream-only behaviour, on a nats-server each suite starts for itself. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { ErrorCode, hasCode } from "../errors/index.js";
import { encodeEnvelope } from "../message/index.js";
import { freePort, startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { take, until } from "./testing.js";
import { connectJetStream, CONSUMER_NAME, queueStream, queueSubject, type Delivery, type JetStreamBroker } from "./index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const unavailable = (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable);
let counter = 0;
const qname = (base: string) => `${base}-${process.pid}-${++counter}-queue`;

describe("JetStream broker", () => {
  let server: NatsServer;
  const opened: JetStreamBroker[] = [];
  const open = async () => {
    const b = await connectJetStream({ servers: server.url, reconnectTimeWaitMs: 250 });
    opened.push(b);
    return b;
  };
  before(async () => { server = await startNatsServer(); });
  after(async () => {
    for (const b of opened) await b.close().catch(() => undefined);
    await server.stop();
  });

  test("reports the server version and max_payload", async () => {
    const b = await open();
    assert.equal(b.kind, "jetstream");
    assert.equal(b.serverVersion, server.version);
    assert.ok(b.maxPayload > 0);
  });

  test("a queue is a WorkQueue file stream with a durable explicit-ack consumer", async () => {
    const b = await open();
    const q = qname("layout");
    await b.queues.ensure(q, { maxBytes: 1 << 20, duplicateWindowMs: 60_000, ackWaitMs: 20_000, maxAckPending: 50 });
    await b.queues.ensure(q); // idempotent
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const si = await jsm.streams.info(queueStream(q));
      assert.equal(si.config.retention, "workqueue");
      assert.equal(si.config.storage, "file");
      assert.deepEqual(si.config.subjects, [`intelmq.queue.${q}`]);
      assert.equal(si.config.max_bytes, 1 << 20);
      assert.equal(si.config.discard, "new");
      assert.equal(si.config.duplicate_window, 60_000 * 1e6);
      const ci = await jsm.consumers.info(queueStream(q), CONSUMER_NAME);
      assert.equal(ci.config.ack_policy, "explicit");
      assert.equal(ci.config.ack_wait, 20_000 * 1e6);
      assert.equal(ci.config.max_ack_pending, 50);
      // consume() raises max_ack_pending to its window.
      const sub = await b.queues.consume(q, { maxInFlight: 200 });
      assert.equal((await jsm.consumers.info(queueStream(q), CONSUMER_NAME)).config.max_ack_pending, 200);
      await sub.stop();
    } finally {
      await nc.close();
    }
  });

  test("odd queue names get valid stream names and come back from listQueues", async () => {
    const b = await open();
    const q = `odd name.${process.pid}*>`;
    assert.match(queueStream(q), /^[A-Za-z0-9_-]+$/);
    assert.doesNotMatch(queueSubject(q).slice("intelmq.queue.".length), /[.*> ]/);
    await b.queues.publish(q, enc("x"));
    assert.ok((await b.queues.list()).includes(q));
    assert.equal(await b.queues.depth(q), 1);
  });

  test("a full queue throws BrokerUnavailableError; the same id goes through once there is room", async () => {
    const b = await open();
    const q = qname("full");
    await b.queues.ensure(q, { maxBytes: 4096 });
    const body = new Uint8Array(1000).fill(65);
    let failedId: string | null = null;
    for (let i = 0; i < 20 && !failedId; i++) {
      try {
        await b.queues.publish(q, body, { msgId: `full:${i}` });
      } catch (err) {
        assert.ok(unavailable(err), String(err));
        failedId = `full:${i}`;
      }
    }
    assert.ok(failedId, "the queue filled up");
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    const stored = async () => (await jsm.streams.info(queueStream(q))).state.messages;
    const before = await stored();
    const sub = await b.queues.consume(q);
    const [d] = await take(sub[Symbol.asyncIterator](), 1);
    await d!.ack();
    await sub.stop();
    await until(async () => {
      try { await b.queues.publish(q, body, { msgId: failedId! }); return true; } catch { return false; }
    }, 5000, "room in the queue");
    assert.equal(await stored(), before);
    await nc.close();
  });

  test("a payload of 3 MB goes through the object store and is removed after ack", async () => {
    const b = await open();
    const q = qname("large");
    const big = randomBytes(3 * 1024 * 1024);
    await b.queues.publish(q, big, { msgId: "large:1", headers: { "X-Kind": "report" } });
    const sub = await b.queues.consume(q);
    const [d] = await take(sub[Symbol.asyncIterator](), 1, 30000);
    assert.equal(d!.data.byteLength, big.byteLength);
    assert.ok(Buffer.from(d!.data).equals(big), "same bytes");
    assert.equal(d!.headers["X-Kind"], "report");
    assert.equal(d!.headers["Intelmq-Object"], undefined);
    const nc = await connect({ servers: server.url });
    try {
      const os = await new Objm(nc).open("intelmq-large");
      assert.equal((await os.list()).length, 1);
      await d!.ack();
      await until(async () => (await os.list()).length === 0, 10000, "object deleted");
    } finally {
      await nc.close();
    }
    assert.equal(await b.queues.depth(q), 0);
    await sub.stop();
  });

  test("messages at or below the ack floor are purged when a queue is opened, unread ones kept", async () => {
    const b = await open();
    const q = qname("ghost");
    await b.queues.ensure(q);
    const stream = queueStream(q);
    const extra = `intelmq.ghost.${process.pid}.${counter}`;
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      // A message the queue's consumer never reads, left below its ack floor: what a crash leaves.
      const si = await jsm.streams.info(stream);
      await jsm.streams.update(stream, { ...si.config, subjects: [queueSubject(q), extra] });
      await jsm.consumers.delete(stream, CONSUMER_NAME);
      await jsm.consumers.add(stream, {
        durable_name: CONSUMER_NAME, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: queueSubject(q),
      });
      const js = (await import("@nats-io/jetstream")).jetstream(nc);
      await b.queues.publish(q, enc("g1"));
      await b.queues.publish(q, enc("g2"));
      await js.publish(extra, enc("ghost")); // seq 3
      await b.queues.publish(q, enc("g4"));
      await b.queues.publish(q, enc("g5"));
      const sub = await b.queues.consume(q);
      const got = await take(sub[Symbol.asyncIterator](), 4);
      assert.deepEqual(got.map((d) => d.seq), [1, 2, 4, 5]);
      for (const d of got.slice(0, 3)) await d.ack();
      await until(async () => (await jsm.consumers.info(stream, CONSUMER_NAME)).ack_floor.stream_seq === 4, 5000, "ack floor 4");
      assert.equal((await jsm.streams.info(stream)).state.messages, 2);

      // Another consumer on the stream: not ours to judge, nothing is purged.
      await jsm.consumers.add(stream, { durable_name: "other", ack_policy: AckPolicy.Explicit, filter_subject: extra });
      const b2 = await open();
      await b2.queues.ensure(q);
      assert.equal((await jsm.streams.info(stream)).state.messages, 2);
      await jsm.consumers.delete(stream, "other");

      await b2.queues.ensure(q);
      const st = (await jsm.streams.info(stream)).state;
      assert.equal(st.messages, 1, "the ghost went, the held message stayed");
      assert.equal(st.first_seq, 5);
      assert.equal(await b2.queues.depth(q), 1);
      await got[3]!.ack();
      await until(async () => (await b2.queues.depth(q)) === 0, 5000, "depth 0");
      await sub.stop();
    } finally {
      await nc.close();
    }
  });

  test("closing a connection gives its held deliveries back at once", async () => {
    const b1 = await open();
    const b2 = await open();
    const q = qname("close");
    await b1.queues.publish(q, enc("a"));
    await b1.queues.publish(q, enc("b"));
    const sub1 = await b1.queues.consume(q);
    await take(sub1[Symbol.asyncIterator](), 2);
    await b1.close();
    assert.equal(b1.state, "closed");
    const sub2 = await b2.queues.consume(q);
    const got = await take(sub2[Symbol.asyncIterator](), 2, 5000); // well below ack_wait (30 s)
    assert.deepEqual(got.map((d) => dec(d.data)).sort(), ["a", "b"]);
    // (No check of deliveryCount: nats-server 2.9 may count a message given back this way as new.)
    await Promise.all(got.map((d) => d.ack()));
    await sub2.stop();
  });

  test("archive: a queue with archiving republishes into the archive stream", async () => {
    const b = await open();
    const q = qname("archived");
    await b.queues.ensure(q, { archive: true, archiveMaxAgeMs: 3600_000 });
    await b.queues.publish(q, enc("keep me"));
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const ai = await jsm.streams.info("archive");
      assert.equal(ai.config.retention, "limits");
      assert.equal(ai.config.discard, "old");
      assert.equal(ai.config.max_age, 3600_000 * 1e6);
      await until(async () => {
        try {
          const m = await jsm.streams.getMessage("archive", { last_by_subj: `intelmq.archive.${q}` });
          return m !== null && dec(m.data) === "keep me";
        } catch { return false; }
      }, 5000, "archived copy");
    } finally {
      await nc.close();
    }
    assert.equal(await b.queues.depth(q), 1, "the queue keeps its message");
  });

  test("logs: a limits file stream (10000 lines per bot, 7 days, discard old); lines are dropped after close", async () => {
    const b = await open();
    const id = `logs-${process.pid}-${++counter}`;
    b.logs.append(id, "first");
    await until(async () => (await b.logs.read(id, 10)).length === 1, 5000, "the first line");
    const nc = await connect({ servers: server.url });
    try {
      const si = await (await jetstreamManager(nc)).streams.info("logs");
      assert.equal(si.config.retention, "limits");
      assert.equal(si.config.storage, "file");
      assert.equal(si.config.max_msgs_per_subject, 10_000);
      assert.equal(si.config.max_age, 7 * 24 * 3600 * 1e9);
      assert.equal(si.config.discard, "old");
      assert.deepEqual(si.config.subjects, ["intelmq.log.>"]);
    } finally {
      await nc.close();
    }
    await b.close();
    assert.doesNotThrow(() => b.logs.append(id, "after close"));
    const r = await open();
    assert.deepEqual(await r.logs.read(id, 10), ["first"]);
  });

  test("connecting to nothing throws BrokerUnavailableError", async () => {
    const port = await freePort();
    await assert.rejects(connectJetStream({ servers: `nats://127.0.0.1:${port}` }), unavailable);
  });
});

describe("JetStream broker across a server restart", () => {
  let server: NatsServer;
  before(async () => { server = await startNatsServer(); });
  after(async () => { await server.stop(); });

  test("a streamed raw cut by an outage fails as an outage, and reads whole from the start after it", async () => {
    const b = await connectJetStream({ servers: server.url, reconnectTimeWaitMs: 250 });
    const q = qname("streamed-outage");
    const raw = randomBytes(4 * 1024 * 1024);
    await b.queues.publish(q, encodeEnvelope([{ __type: "Report", "feed.name": "Big", raw: raw.toString("base64") }]), { msgId: "streamed:1" });
    const sub = await b.queues.consume(q, { streamRaw: true });
    const [d] = await take(sub[Symbol.asyncIterator](), 1, 30000);
    assert.ok(d!.raw);
    const it = d!.raw.chunks()[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false, "a first piece");
    await server.stop({ keepStore: true });
    await assert.rejects(async () => { while (!(await it.next()).done) { /* read on */ } }, unavailable);
    await server.restart();
    await until(() => b.state === "connected", 15000, "reconnected");
    const pieces: Uint8Array[] = [];
    await until(async () => {
      pieces.length = 0;
      try {
        for await (const c of d!.raw!.chunks()) pieces.push(c);
        return true;
      } catch (err) {
        assert.ok(unavailable(err), String(err));
        return false;
      }
    }, 30000, "the raw read again");
    assert.ok(Buffer.concat(pieces).equals(raw), "the same bytes");
    await sub.stop();
    await b.close();
  });

  test("the subscription resumes by itself, publishing in the outage fails fast, nothing is lost", async () => {
    const b = await connectJetStream({ servers: server.url, reconnectTimeWaitMs: 250 });
    const states: string[] = [];
    b.onState((s) => states.push(s));
    const q = qname("restart");
    const received = new Set<string>();
    const sub = await b.queues.consume(q, { maxInFlight: 20 });
    // A slow bot: a little work per message, acks retried until the server confirms.
    const ackUntilDone = async (d: Delivery) => {
      for (;;) {
        try { await d.ack(); return; } catch (err) {
          assert.ok(unavailable(err), String(err));
          await sleep(100);
        }
      }
    };
    const reader = (async () => {
      for await (const d of sub) {
        await sleep(10);
        received.add(dec(d.data));
        await ackUntilDone(d);
      }
    })();
    for (let i = 0; i < 100; i++) await b.queues.publish(q, enc(`a${i}`), { msgId: `restart:a${i}` });
    await until(() => received.size >= 20, 10000, "first messages");

    await server.stop({ keepStore: true });
    await until(() => b.state !== "connected", 5000, "disconnect noticed");
    await assert.rejects(b.queues.publish(q, enc("during"), { msgId: "restart:during" }), unavailable);
    await sleep(5000);
    await server.restart();
    await until(() => b.state === "connected", 15000, "reconnected");
    // The id that failed during the outage goes through now.
    await until(async () => {
      try { await b.queues.publish(q, enc("during"), { msgId: "restart:during" }); return true; } catch { return false; }
    }, 10000, "publish after restart");
    for (let i = 0; i < 20; i++) await b.queues.publish(q, enc(`b${i}`), { msgId: `restart:b${i}` });

    const expected = [...Array.from({ length: 100 }, (_, i) => `a${i}`), "during", ...Array.from({ length: 20 }, (_, i) => `b${i}`)];
    await until(() => expected.every((e) => received.has(e)), 60000, "every message after the restart");
    await until(async () => (await b.queues.depth(q)) === 0, 10000, "queue drained");
    assert.ok(states.includes("disconnected") || states.includes("reconnecting"), JSON.stringify(states));
    assert.equal(states.at(-1), "connected");
    await sub.stop();
    await b.close();
    await reader;
  });
});

describe("server version check at connect", () => {
  // A stand-in that speaks the NATS handshake and claims to be an old server.
  let fake: ReturnType<typeof createServer>;
  let port = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    port = await freePort();
    fake = createServer((sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      sock.on("error", () => undefined);
      sock.write(`INFO ${JSON.stringify({ server_id: "FAKE", version: "2.8.4", go: "go1.17", host: "127.0.0.1", port, headers: true, max_payload: 1048576, proto: 1, jetstream: true })}\r\n`);
      sock.on("data", (b) => { if (b.toString().includes("PING")) sock.write("PONG\r\n"); });
    });
    await new Promise<void>((r) => fake.listen(port, "127.0.0.1", r));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => fake.close(() => r()));
  });

  test("a 2.8 server is refused with UnsupportedFeatureError", async () => {
    await assert.rejects(connectJetStream({ servers: `nats://127.0.0.1:${port}` }), (e: unknown) => {
      assert.ok(hasCode(e, ErrorCode.UnsupportedFeature), String(e));
      assert.match((e as Error).message, /2\.8\.4.*2\.9\.0/);
      return true;
    });
  });
});
