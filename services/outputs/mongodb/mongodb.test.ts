// SPDX-License-Identifier: AGPL-3.0-only
// MongoDB cannot be installed from Debian here: a loopback peer speaking MongoDB's wire protocol
// (test/helpers/mongo-peer.ts) takes the real driver's commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { Event, runBot, type BotContext } from "../../../shared/sdk/index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import bot, { params } from "./index.js";
import { startMongoPeer } from "../../../test/helpers/mongo-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "time.observation": "2024-09-16T10:00:00+00:00", "time.source": "2024-09-01T05:06:07+00:00", "extra.n": 1 });

test("flat documents: dots replaced, time.observation a date, time.source left as text (as IntelMQ); one insert per input", async () => {
  const m = await startMongoPeer();
  const out = await runBot(bot, { params: { ...HARNESS, port: m.port, host: "127.0.0.1", database: "intelmq", collection: "events" }, input: [encodeEnvelope([ev("192.0.2.1"), ev("192.0.2.2")])] });
  assert.equal(out.dumped, 0);
  const docs = m.collections.get("intelmq.events")!;
  assert.equal(docs.length, 2);
  const { _id, ...d } = docs[0]!;
  assert.equal(typeof _id, "string");
  assert.deepEqual(d, { extra_n: 1, source_ip: "192.0.2.1", time_observation: new Date("2024-09-16T10:00:00Z"), time_source: "2024-09-01T05:06:07+00:00" });
  assert.equal(m.commands.filter((c) => c === "insert").length, 1);
  await m.close();
});

test("hierarchical_output: nested documents, both times dates", async () => {
  const m = await startMongoPeer();
  await runBot(bot, { params: { ...HARNESS, port: m.port, host: "127.0.0.1", database: "intelmq", collection: "events", hierarchical_output: true }, input: [ev("192.0.2.1")] });
  const { _id, ...d } = m.collections.get("intelmq.events")![0]!;
  assert.ok(_id);
  assert.deepEqual(d, { extra: { n: 1 }, source: { ip: "192.0.2.1" }, time: { observation: new Date("2024-09-16T10:00:00Z"), source: new Date("2024-09-01T05:06:07Z") } });
  await m.close();
});

test("an input flushed again after a failure is stored once (the duplicate _ids refused and taken as done)", async () => {
  const m = await startMongoPeer();
  const impl = await bot.create(params.parse({ port: m.port, host: "127.0.0.1", database: "d", collection: "c" }), { log: pino({ level: "silent" }) } as unknown as BotContext);
  const input = { key: "q:3:x", queue: "q", seq: 3 };
  try {
    for (let round = 0; round < 2; round++) {
      for (const ip of ["192.0.2.1", "192.0.2.2"]) await impl.export(new Event({ "source.ip": ip }));
      await impl.flush!(input);
    }
    m.failInserts(1);
    await impl.export(new Event({ "source.ip": "192.0.2.3" }));
    await assert.rejects(Promise.resolve(impl.flush!({ key: "q:4:y", queue: "q", seq: 4 })), /not primary/);
    await impl.flush!({ key: "q:4:y", queue: "q", seq: 4 });
  } finally {
    await impl.shutdown?.();
  }
  assert.deepEqual(m.collections.get("d.c")!.map((d) => d.source_ip), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
  await m.close();
});

test("required database and collection; replacement_char '.' refused", async () => {
  await assert.rejects(runBot(bot, { params: { ...HARNESS, collection: "c" }, input: [] }), /database/);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, database: "d" }, input: [] }), /collection/);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, database: "d", collection: "c", replacement_char: "." }, input: [] }), /replacement_char/);
});
