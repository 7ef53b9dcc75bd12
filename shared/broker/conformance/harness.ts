// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The broker conformance suite's harness: each concern's tests (queues.test.ts, dumps.test.ts,
 * ...) run once against the memory broker and once against JetStream on a nats-server of their own.
 */
import { after, before, describe } from "node:test";
import { startNatsServer, type NatsServer } from "../../../test/helpers/nats-server.js";
import { connectJetStream, MemoryBroker, type Broker } from "../index.js";

export interface Fixture {
  /** A broker for the test: the same one (memory) or a new connection to the same server (JetStream). */
  broker(): Promise<Broker>;
}

interface Open extends Fixture {
  close(): Promise<void>;
}

function memory(): Open {
  const mem = new MemoryBroker();
  return { broker: async () => mem, close: () => mem.close() };
}

async function jetstream(): Promise<Open> {
  const server: NatsServer = await startNatsServer();
  const opened: Broker[] = [];
  return {
    broker: async () => {
      const b = await connectJetStream({ servers: server.url });
      opened.push(b);
      return b;
    },
    close: async () => {
      for (const b of opened) await b.close();
      await server.stop();
    },
  };
}

/** Define `suite` (the tests of one concern) for the memory broker and for JetStream. */
export function conformance(concern: string, suite: (fx: Fixture) => void): void {
  for (const [kind, open] of [["memory", async () => memory()], ["jetstream", jetstream]] as const) {
    describe(`broker ${concern} (${kind})`, { timeout: 180_000 }, () => {
      let fx: Open | undefined;
      before(async () => { fx = await open(); });
      after(async () => { await fx?.close(); });
      suite({ broker: () => fx!.broker() });
    });
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

let counter = 0;
/** A number no other test of this process has: names of bots, buckets and subjects. */
export const next = (): number => ++counter;
/** A queue name no other test of this process uses. */
export const qname = (base: string): string => `${base}-${process.pid}-${next()}-queue`;
