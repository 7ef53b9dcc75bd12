// SPDX-License-Identifier: AGPL-3.0-only
/** The JetStream broker's size limits of dumps, logs, object stores and KV buckets, on a nats-server of its own. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { ErrorCode, hasCode } from "../errors/index.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { take, until } from "./testing.js";
import { connectJetStream, DEFAULTS, type BrokerLimits, type JetStreamBroker } from "./index.js";

const unavailable = (e: unknown) => hasCode(e, ErrorCode.BrokerUnavailable);
let counter = 0;
const qname = (base: string) => `${base}-${process.pid}-${++counter}-queue`;

describe("JetStream: the size limits of dumps, logs, object stores and KV buckets", () => {
  let server: NatsServer;
  const opened: JetStreamBroker[] = [];
  const open = async (limits: BrokerLimits = {}) => {
    const b = await connectJetStream({ servers: server.url, limits });
    opened.push(b);
    return b;
  };
  before(async () => { server = await startNatsServer(); });
  after(async () => {
    for (const b of opened) await b.close().catch(() => undefined);
    await server.stop();
  });
  const MiB = 1024 * 1024;
  const entry = (i: number, size = 800) => ({
    bot_id: "lim-bot", source_queue: "lim-queue", traceback: ["x"], message: "m".repeat(size), timestamp: `2024-01-01T00:00:0${i % 10}`,
  });

  test("streams and buckets of an older version without a limit get theirs; set limits are applied to existing ones", async () => {
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      // As an older version left them: no max_bytes, the dumps discarding old entries.
      await jsm.streams.add({ name: "dumps", subjects: ["intelmq.dump.>"], retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old });
      await new Objm(nc).create("intelmq-large", { storage: StorageType.File });
      const old = await open();
      await old.dumps.store(entry(1));
      await old.queues.publish(qname("old-large"), randomBytes(2 * MiB), { msgId: "old-large" });
      let si = await jsm.streams.info("dumps");
      assert.equal(si.config.max_bytes, DEFAULTS.dumpsMaxBytes);
      assert.equal(si.config.discard, "new", "a full dumps stream refuses rather than drop entries");
      assert.equal((await jsm.streams.info("OBJ_intelmq-large")).config.max_bytes, DEFAULTS.largeMaxBytes);
      const kvName = `lim${process.pid}`;
      await old.kv.open(kvName, 60);
      si = await jsm.streams.info(`KV_${kvName}`);
      assert.equal(si.config.max_bytes, DEFAULTS.cacheMaxBytes, "a bot cache without limits of its own gets cache_max_bytes");
      assert.equal(si.config.discard, "old");
      old.logs.append("lim-bot", "a line");
      await until(async () => (await old.logs.read("lim-bot", 1)).length === 1, 5000, "the log line");
      assert.equal((await jsm.streams.info("logs")).config.max_bytes, DEFAULTS.logsMaxBytes);

      // A connection with runtime.yaml's limits sets them on what exists.
      const b = await open({ dumpsMaxBytes: 5 * MiB, logsMaxBytes: 6 * MiB, largeMaxBytes: 70 * MiB, cacheMaxBytes: 80_000 });
      await b.dumps.store(entry(2));
      b.logs.append("lim-bot", "another line");
      await until(async () => (await b.logs.read("lim-bot", 2)).length === 2, 5000, "the second log line");
      await b.queues.publish(qname("new-large"), randomBytes(2 * MiB), { msgId: "new-large" });
      await b.kv.open(kvName, 60);
      assert.equal((await jsm.streams.info("dumps")).config.max_bytes, 5 * MiB);
      assert.equal((await jsm.streams.info("logs")).config.max_bytes, 6 * MiB);
      assert.equal((await jsm.streams.info("OBJ_intelmq-large")).config.max_bytes, 70 * MiB);
      assert.equal((await jsm.streams.info(`KV_${kvName}`)).config.max_bytes, 80_000);
      assert.equal(b.limits.statusMaxBytes, DEFAULTS.statusMaxBytes, "unset ones are the defaults");
      // A connection without limits of its own leaves set ones alone.
      const plain = await open();
      await plain.dumps.store(entry(3));
      assert.equal((await jsm.streams.info("dumps")).config.max_bytes, 5 * MiB);
      // Lowering below what a discard-new store holds would delete: the old limit stays.
      const low = await open({ dumpsMaxBytes: 1000 });
      await low.dumps.store(entry(4)).catch(() => undefined);
      assert.equal((await jsm.streams.info("dumps")).config.max_bytes, 5 * MiB);
      assert.equal((await low.dumps.read("lim-bot")).length, 4, "no dump deleted");
    } finally {
      await nc.close();
    }
  });

  test("a full dumps stream refuses with BrokerUnavailableError (the bot waits); deleting an entry makes room", async () => {
    const nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.delete("dumps").catch(() => false);
    await nc.close();
    const b = await open({ dumpsMaxBytes: 5000 });
    let refused: unknown = null;
    for (let i = 0; i < 20 && !refused; i++) {
      try { await b.dumps.store(entry(i)); } catch (err) { refused = err; }
    }
    assert.ok(refused, "the dumps filled up");
    assert.ok(unavailable(refused), String(refused));
    assert.match(String(refused), /dumps are full.*dumps_max_bytes/);
    const kept = await b.dumps.read("lim-bot");
    assert.ok(kept.length >= 4, `entries kept (${kept.length})`);
    await assert.rejects(b.dumps.store(entry(0)), unavailable);
    assert.equal(await b.dumps.delete(kept[0]!.seq), true);
    await b.dumps.store(entry(0));
    assert.equal((await b.dumps.read("lim-bot")).length, kept.length, "none was dropped to make room");
  });

  test("a full intelmq-large makes producers wait; a full archive payload store never holds up an archived queue", async () => {
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      // Emptied object stores, made again with these limits.
      await jsm.streams.delete("OBJ_intelmq-large").catch(() => false);
      await jsm.streams.delete("OBJ_intelmq-large-archive").catch(() => false);
      const fresh = await open({ largeMaxBytes: 3 * MiB, archiveLargeMaxBytes: MiB });
      // The archived queue: its 2 MiB payload does not fit the archive's store and travels unarchived.
      const aq = qname("archived-large");
      await fresh.queues.ensure(aq, { archive: true });
      const report = randomBytes(2 * MiB);
      await fresh.queues.publish(aq, report, { msgId: "archived-large" });
      assert.equal((await jsm.streams.info("OBJ_intelmq-large-archive")).config.max_bytes, MiB);
      const sub = await fresh.queues.consume(aq);
      const [d] = await take(sub[Symbol.asyncIterator](), 1, 30000);
      assert.ok(Buffer.from(d!.data).equals(report), "delivered whole");
      await d!.ack();
      await sub.stop();
      const r = await fresh.archive.replay(aq, { dryRun: false, target: qname("replayed") });
      assert.equal(r.replayed, 0);
      assert.equal(r.missing, 1, "a replay knows it was not kept");

      // A plain queue: the second payload waits for room in intelmq-large.
      const q = qname("large-full");
      await until(async () => (await jsm.streams.info("OBJ_intelmq-large")).state.bytes < MiB, 10000, "the delivered payload deleted");
      await fresh.queues.publish(q, randomBytes(2 * MiB), { msgId: "large-1" });
      await assert.rejects(fresh.queues.publish(q, randomBytes(2 * MiB), { msgId: "large-2" }), (e: unknown) => {
        assert.ok(unavailable(e), String(e));
        assert.match(String(e), /intelmq-large is full/);
        return true;
      });
      assert.equal(await fresh.queues.depth(q), 1);
      const sub2 = await fresh.queues.consume(q);
      const [first] = await take(sub2[Symbol.asyncIterator](), 1, 30000);
      await first!.ack();
      await until(async () => {
        try { await fresh.queues.publish(q, randomBytes(2 * MiB), { msgId: "large-2" }); return true; } catch { return false; }
      }, 10000, "room for the second payload");
      await sub2.stop();
    } finally {
      await nc.close();
    }
  });
});
