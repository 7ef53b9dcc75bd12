// SPDX-License-Identifier: AGPL-3.0-only
/**
 * One NATS connection and what every part of the JetStream broker shares on it: the connection
 * state, the translation of client failures into our errors, stream and consumer lookups,
 * limits streams, and the object store buckets of large payloads.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType,
  type ConsumerInfo, type JetStreamClient, type JetStreamManager, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { BrokerUnavailableError, errorMessage, PipelineError, UnsupportedFeatureError } from "../../errors/index.js";
import { CONSUMER_NAME, DEFAULTS, LARGE_ARCHIVE_BUCKET, LARGE_BUCKET, LARGE_DUMPS_BUCKET, resolveLimits } from "../names.js";
import { Publisher } from "../publisher.js";
import type { BrokerLimits, BrokerState } from "../types.js";

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
  /** The limits of what this connection creates, with the defaults for those not given. */
  readonly limits: Readonly<Required<BrokerLimits>>;

  constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    readonly serverVersion: string,
    readonly maxPayload: number,
    readonly timeoutMs: number,
    readonly log: Logger,
    /** The limits given (from runtime.yaml): these are applied to existing streams and buckets too. */
    readonly given: BrokerLimits = {},
  ) {
    this.limits = resolveLimits(given);
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
        case "error":
          // A permissions violation names the refused subject: say so, or the refused publish
          // or request only shows as a timeout.
          this.log.error({ err: errorMessage(s.error) }, `NATS refused: ${errorMessage(s.error)}`);
          break;
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

  /**
   * Create a limits-retention stream if missing. An existing one is updated when asked to, and
   * always when it has no max_bytes yet while `want` has one (streams of older versions).
   */
  async limitsStream(want: Partial<StreamConfig> & { name: string }, update: boolean): Promise<void> {
    const cfg: Partial<StreamConfig> & { name: string } = { retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: this.limits.replicas, ...want };
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
    const unbounded = (si.config.max_bytes ?? -1) <= 0 && (cfg.max_bytes ?? -1) > 0;
    if (update || unbounded) await this.updateStream(si, cfg, cfg.discard === DiscardPolicy.Old);
  }

  /**
   * Update a stream to `want`'s settings. A lower max_bytes or max_msgs is applied only while
   * the stream holds at most half of it: nats-server enforces a lowered limit at once by
   * deleting the oldest messages, whatever the discard policy, so a queue or the dumps would
   * lose what they hold (and publishers may add more between our look and the update). Until
   * then the old limit stays and a warning says so. `mayDrop`: the stream discards its oldest
   * anyway (archive, logs, caches), lowering is what is asked for. nats-server 2.9 takes all
   * we set this way (max_bytes and max_msgs of any stream, KV buckets' and object stores'
   * included, and their discard policy), so no feature check is needed here.
   */
  async updateStream(si: StreamInfo, want: Partial<StreamConfig>, mayDrop: boolean): Promise<StreamInfo> {
    const cfg: Partial<StreamConfig> = { ...want };
    if (!mayDrop) {
      for (const [key, held] of [["max_bytes", si.state.bytes], ["max_msgs", si.state.messages]] as const) {
        const have = si.config[key] ?? -1;
        const next = cfg[key];
        if (next === undefined || next === have) continue;
        const lowering = next > 0 && (have <= 0 || next < have);
        if (lowering && held * 2 > next) {
          this.log.warn({ stream: si.config.name, [key]: have, wanted: next, holds: held },
            `not lowering ${key} of stream ${si.config.name} to ${next} while it holds ${held}: that would delete messages; it is lowered when made sure of again while it holds at most half`);
          cfg[key] = have;
        }
      }
    }
    if (!streamDiffers(si.config, cfg)) return si;
    return await this.jsm.streams.update(si.config.name, { ...si.config, ...cfg } as StreamConfig);
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
   * the archive (`ttlMs`) instead of at ack, so that a replay still finds them. Each has its
   * max_bytes (discard new: a full bucket refuses a payload, nothing is deleted).
   */
  largeStore(bucket: string = LARGE_BUCKET, ttlMs?: number): Promise<ObjectStore> {
    let p = this.#large.get(bucket);
    if (!p) {
      const archive = bucket === LARGE_ARCHIVE_BUCKET;
      const [maxBytes, given] = bucket === LARGE_ARCHIVE_BUCKET ? [this.limits.archiveLargeMaxBytes, this.given.archiveLargeMaxBytes]
        : bucket === LARGE_DUMPS_BUCKET ? [this.limits.dumpsLargeMaxBytes, this.given.dumpsLargeMaxBytes]
        : [this.limits.largeMaxBytes, this.given.largeMaxBytes];
      p = new Objm(this.js).create(bucket, {
        storage: StorageType.File,
        description: archive ? "IntelMQ payloads above max_payload of archived queues (kept for replay)"
          : bucket === LARGE_DUMPS_BUCKET ? "IntelMQ messages of dump entries above max_payload" : "IntelMQ payloads above max_payload",
        max_bytes: maxBytes,
        replicas: this.limits.replicas,
        ...(archive ? { ttl: nanos(ttlMs ?? DEFAULTS.archiveMaxAgeMs) } : {}),
      }).then(async (os) => {
        // An existing bucket keeps its settings on create: give it its limit (a new one has it).
        const si = await this.streamInfo(`OBJ_${bucket}`);
        if (si && si.config.max_bytes !== maxBytes && (given !== undefined || (si.config.max_bytes ?? -1) <= 0)) {
          await this.updateStream(si, { max_bytes: maxBytes }, false);
        }
        return os;
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
