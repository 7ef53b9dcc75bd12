// SPDX-License-Identifier: AGPL-3.0-only
/**
 * One NATS connection and what every part of the JetStream broker shares on it: the connection
 * state, the translation of client failures into our errors, stream and consumer lookups,
 * limits streams, and the object store buckets of large payloads.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  JetStreamApiError, RetentionPolicy, StorageType,
  type ConsumerInfo, type JetStreamClient, type JetStreamManager, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { BrokerUnavailableError, errorMessage, PipelineError, UnsupportedFeatureError } from "../../errors/index.js";
import { CONSUMER_NAME, DEFAULTS, LARGE_ARCHIVE_BUCKET, LARGE_BUCKET, LARGE_DUMPS_BUCKET } from "../names.js";
import { Publisher } from "../publisher.js";
import type { BrokerState } from "../types.js";

/** Room left for headers when deciding whether a payload fits into one message. */
export const HEADER_ROOM = 8 * 1024;

export function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

export function isNotFound(err: unknown): boolean {
  const code = apiCode(err);
  return code === 10059 || code === 10014 || /not found/i.test(errorMessage(err));
}

export class JsConnection {
  #state: BrokerState = "connected";
  readonly #listeners = new Set<(s: BrokerState) => void>();
  readonly #reconnected = new Set<() => void>();
  /** Object store buckets by name (large payloads, of archived queues, of dumps). */
  readonly #large = new Map<string, Promise<ObjectStore>>();
  readonly pub: Publisher;

  constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    readonly serverVersion: string,
    readonly maxPayload: number,
    readonly timeoutMs: number,
    readonly log: Logger,
  ) {
    this.pub = new Publisher(nc, timeoutMs);
    void this.#watch();
    nc.closed().then(() => this.setState("closed"), () => this.setState("closed"));
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case "disconnect": this.setState("disconnected"); break;
        case "reconnecting": this.setState("reconnecting"); break;
        case "reconnect":
          this.setState("connected");
          for (const f of this.#reconnected) f();
          break;
        case "close": this.setState("closed"); break;
        default: break;
      }
    }
  }

  setState(s: BrokerState): void {
    if (this.#state === s || this.#state === "closed") return;
    this.#state = s;
    this.log.debug({ state: s }, "NATS connection state");
    for (const l of this.#listeners) {
      try { l(s); } catch (err) { this.log.error({ err }, "broker state listener failed"); }
    }
  }

  get state(): BrokerState {
    return this.#state;
  }

  onState(listener: (s: BrokerState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after every reconnect. */
  onReconnect(f: () => void): void {
    this.#reconnected.add(f);
  }

  /** Throws BrokerUnavailableError unless connected. */
  live(what: string): void {
    if (this.#state !== "connected") throw new BrokerUnavailableError(`${what}: NATS is ${this.#state}`);
  }

  /** Turn a client/server failure into our error: unavailability unless it is a plain API refusal. */
  wrap(what: string, err: unknown): Error {
    if (err instanceof BrokerUnavailableError || err instanceof UnsupportedFeatureError || err instanceof PipelineError) return err;
    if (err instanceof JetStreamApiError && ![10077, 10047, 10023, 10008].includes(err.code)) {
      return new PipelineError(`${what}: ${err.message} (JetStream error ${err.code})`, { cause: err });
    }
    return new BrokerUnavailableError(`${what}: ${errorMessage(err)}`, { cause: err });
  }

  async streamInfo(name: string): Promise<StreamInfo | null> {
    try {
      return await this.jsm.streams.info(name);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async consumerInfo(stream: string): Promise<ConsumerInfo | null> {
    try {
      return await this.jsm.consumers.info(stream, CONSUMER_NAME);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Create a limits-retention stream if missing; update it when asked to. */
  async limitsStream(want: Partial<StreamConfig> & { name: string }, update: boolean): Promise<void> {
    const cfg: Partial<StreamConfig> & { name: string } = { retention: RetentionPolicy.Limits, storage: StorageType.File, ...want };
    let si = await this.streamInfo(cfg.name);
    // Another connection may be creating the same stream: the server then refuses our add while
    // its info still says "not found" for a moment. Ask again before giving up.
    for (let attempt = 1; !si; attempt++) {
      try {
        await this.jsm.streams.add(cfg);
        return;
      } catch (err) {
        si = await this.streamInfo(cfg.name);
        if (!si && attempt >= 5) throw err;
        if (!si) await sleep(50 * attempt);
      }
    }
    if (update && streamDiffers(si.config, cfg)) await this.jsm.streams.update(cfg.name, { ...si.config, ...cfg } as StreamConfig);
  }

  /** Delete a stream; false if there was none. */
  async deleteStream(name: string, what: string): Promise<boolean> {
    try {
      return await this.jsm.streams.delete(name);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.wrap(what, err);
    }
  }

  /**
   * An object store bucket for payloads above max_payload. Those of archived queues expire with
   * the archive (`ttlMs`) instead of at ack, so that a replay still finds them.
   */
  largeStore(bucket: string = LARGE_BUCKET, ttlMs?: number): Promise<ObjectStore> {
    let p = this.#large.get(bucket);
    if (!p) {
      const archive = bucket === LARGE_ARCHIVE_BUCKET;
      p = new Objm(this.js).create(bucket, {
        storage: StorageType.File,
        description: archive ? "IntelMQ payloads above max_payload of archived queues (kept for replay)"
          : bucket === LARGE_DUMPS_BUCKET ? "IntelMQ messages of dump entries above max_payload" : "IntelMQ payloads above max_payload",
        ...(archive ? { ttl: nanos(ttlMs ?? DEFAULTS.archiveMaxAgeMs) } : {}),
      });
      const mine = p;
      this.#large.set(bucket, mine);
      mine.catch(() => { if (this.#large.get(bucket) === mine) this.#large.delete(bucket); });
    }
    return p;
  }

  async close(): Promise<void> {
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => undefined);
    }
    this.pub.close();
    this.setState("closed");
  }
}

export function streamDiffers(have: StreamConfig, want: Partial<StreamConfig>): boolean {
  for (const [k, v] of Object.entries(want)) {
    const h = (have as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(h) !== JSON.stringify(v)) return true;
  }
  return false;
}
