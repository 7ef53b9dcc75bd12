// SPDX-License-Identifier: AGPL-3.0-only
/** The publisher's failures are ours: a publish that gets no PubAck is a BrokerUnavailableError, to be retried. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { ErrorCode, hasCode } from "../errors/index.js";
import { startNatsServer, type NatsServer } from "../../test/helpers/nats-server.js";
import { Publisher } from "./publisher.js";

const unavailable = (subject: string, text: RegExp) => (e: unknown) =>
  hasCode(e, ErrorCode.BrokerUnavailable) && (e as Error).name === "BrokerUnavailableError" && (e as Error).message.includes(subject) && text.test((e as Error).message);

describe("Publisher", { timeout: 60_000 }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc.close();
    await server.stop();
  });

  test("no PubAck in time: BrokerUnavailableError naming the subject", async () => {
    // A plain subscriber takes the message and never answers, as a server that lost it would.
    const sub = nc.subscribe("silent.subject");
    const pub = new Publisher(nc, 200);
    try {
      await assert.rejects(pub.publish("silent.subject", "x"), unavailable("silent.subject", /no PubAck within 200 ms/));
    } finally {
      pub.close();
      sub.unsubscribe();
    }
  });

  test("no stream for the subject: BrokerUnavailableError saying so", async () => {
    const pub = new Publisher(nc, 5_000);
    try {
      await assert.rejects(pub.publish("no.stream.here", "x"), unavailable("no.stream.here", /no responders/));
    } finally {
      pub.close();
    }
  });

  test("tryPublishOk: null for a PubAck, the refusal as data, a missing stream as BrokerUnavailableError", async () => {
    await (await jetstreamManager(nc)).streams.add({ name: "OK_TEST", subjects: ["ok.test.>"] });
    const pub = new Publisher(nc, 5_000);
    try {
      const create = headers();
      create.set("Nats-Expected-Last-Subject-Sequence", "0");
      assert.equal(await pub.tryPublishOk("ok.test.a", "1", create), null);
      const refused = await pub.tryPublishOk("ok.test.a", "2", create);
      assert.equal(refused?.error.err_code, 10071, "wrong last sequence: the key exists");
      assert.equal(await pub.tryPublishOk("ok.test.b", "3"), null);
      await assert.rejects(pub.tryPublishOk("no.stream.ok", "x"), unavailable("no.stream.ok", /no responders/));
    } finally {
      pub.close();
    }
  });

  test("closing fails what waits with BrokerUnavailableError", async () => {
    const sub = nc.subscribe("held.subject");
    const pub = new Publisher(nc, 60_000);
    const waiting = pub.publish("held.subject", "x");
    pub.close();
    sub.unsubscribe();
    await assert.rejects(waiting, unavailable("held.subject", /connection closed/));
  });
});
