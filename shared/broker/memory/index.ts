// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The in-memory broker: JetStream's semantics without a server, for unit tests and library mode
 * (IntelMQ's pythonlist broker), its parts by concern as on JetStream.
 */
import { resolveLimits } from "../names.js";
import type { Broker, BrokerLimits, BrokerState } from "../types.js";
import { MemArchive } from "./archive.js";
import { MemQueues } from "./queues.js";
import { MemState } from "./state.js";
import { MemControl, MemDumps, MemKvBuckets, MemLogs } from "./stores.js";

/** In-memory broker with JetStream's semantics (ack/nak/redelivery, msg-id dedup), for tests and library mode. */
export class MemoryBroker implements Broker {
  readonly kind = "memory" as const;
  readonly #m = new MemState();
  readonly limits: Readonly<Required<BrokerLimits>>;
  readonly archive = new MemArchive(this.#m);
  readonly queues = new MemQueues(this.#m, this.archive);
  readonly dumps: MemDumps;
  readonly logs: MemLogs;
  readonly kv: MemKvBuckets;
  readonly control = new MemControl(this.#m);

  /** `limits`: as JetStream's (dumps, logs and KV buckets in bytes of their entries). */
  constructor(opts: { limits?: BrokerLimits } = {}) {
    this.limits = resolveLimits(opts.limits);
    this.dumps = new MemDumps(this.#m, this.limits.dumpsMaxBytes);
    this.logs = new MemLogs(this.#m, this.limits.logsMaxBytes);
    this.kv = new MemKvBuckets(this.#m, this.limits.cacheMaxBytes);
    this.archive.queues = this.queues;
  }

  get state(): BrokerState {
    return this.#m.state;
  }

  onState(listener: (s: BrokerState) => void): () => void {
    this.#m.listeners.add(listener);
    return () => this.#m.listeners.delete(listener);
  }

  serverInfo(): { version: string; url: string } {
    return { version: "memory", url: "memory:" };
  }

  /** Close: every held delivery goes back to its queue (as a lost connection would), nothing more is accepted. */
  async close(): Promise<void> {
    if (this.#m.state === "closed") return;
    this.queues.handBack();
    this.#m.close();
  }
}
