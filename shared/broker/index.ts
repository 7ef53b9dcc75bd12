// SPDX-License-Identifier: AGPL-3.0-only
// CONTRACT STUB: public entry of the broker module. Implementations to be written.
export type {
  Broker, BrokerState, ConsumeOptions, Delivery, DumpEntry, KvCache, PublishOptions, QueueSettings, StoredDump, Subscription,
} from "./types.js";
import type { Broker } from "./types.js";

/** In-memory broker with JetStream's semantics (ack/nak/redelivery, msg-id dedup), for tests and library mode. */
export declare class MemoryBroker implements Broker {
  constructor();
}
export interface MemoryBroker extends Broker {}

export interface JetStreamOptions {
  /** nats:// URLs; default NATS_URL or nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** Connection name shown by the server (e.g. the bot id). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Reconnect for ever (default) or give up after this many attempts. */
  maxReconnectAttempts?: number;
}

/** Connect to NATS, check the server version (2.9+), return the JetStream broker. */
export declare function connectJetStream(opts?: JetStreamOptions): Promise<Broker>;
