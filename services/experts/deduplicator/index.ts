// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

/** The cache bucket (JetStream KV on NATS, memory in library mode); see ARCHITECTURE.md. */
export const DEDUP_BUCKET = "dedup";
/** What IntelMQ documents as filter_keys when none is given. */
const DEFAULT_FILTER_KEYS = ["raw", "time.observation"];

export const params = z.object({
  filter_type: z.enum(["blacklist", "whitelist"]).default("blacklist")
    .describe("How filter_keys is read: blacklist hashes all keys but these, whitelist only these"),
  filter_keys: p.list().nullable().default(null)
    .describe("Keys (a list or a comma-separated string) for filter_type; time.observation is never hashed. Unset: raw,time.observation"),
  bypass: p.bool().default(false).describe("Forward every message without looking at the cache"),
  local_cache_entries: p.int().pipe(z.number().int().min(0)).default(0)
    .describe("Ours: hashes this instance wrote, answered without a round trip to the shared cache (about 300 bytes each, 10,000 take ~3 MiB; 0, the default, turns it off: the memory is kept under 100 MiB)"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds a hash is remembered: the TTL of the dedup cache bucket"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"dedup\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(6).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "deduplicator",
  intelmq: "intelmq.bots.experts.deduplicator.expert",
  description: "Drops events whose hash (over all keys, or the chosen ones) was seen within the cache TTL",
  params,
  create: async (prm, ctx) => {
    const hashOpts = {
      filterKeys: new Set(prm.filter_keys ?? DEFAULT_FILTER_KEYS),
      filterType: prm.filter_type,
    };
    const cache = prm.bypass ? null : await ctx.cache(DEDUP_BUCKET, prm.redis_cache_ttl);
    const mine = new OwnWrites(prm.redis_cache_ttl * 1000, prm.local_cache_entries);
    return {
      async process(event, meta) {
        if (cache === null) return event;
        const hash = event.hash(hashOpts);
        // A hash this instance wrote itself is answered without a round trip to the shared cache.
        const known = mine.get(hash);
        if (known !== undefined) {
          if (known === meta.origin) return event;
          ctx.log.debug("Dropped message.");
          return null;
        }
        // The value is the event's origin, stable across redeliveries: after a crash between
        // storing the hash and acknowledging the input, the redelivered input finds its own
        // origin and is forwarded again instead of being lost as a "duplicate" of itself.
        const held = await cache.createOrGet(hash, meta.origin);
        if (held === null) {
          mine.set(hash, meta.origin);
          return event;
        }
        if (held === meta.origin) return event;
        ctx.log.debug("Dropped message.");
        return null;
      },
    };
  },
});

/**
 * The hashes this instance created in the shared cache, with their origins, for at most the
 * cache's TTL (counted from our own write, so never longer than the shared entry lives) and at
 * most `max` entries (the oldest go first). Only our own writes are kept: an entry learned
 * from another instance has an unknown age.
 */
class OwnWrites {
  /** hash -> origin, in order of writing */
  readonly #origins = new Map<string, string>();
  /** write times in the same order: the oldest entry is always the first of both */
  readonly #times: number[] = [];
  #head = 0;
  constructor(readonly ttlMs: number, readonly max: number) {}

  get(hash: string): string | undefined {
    this.#expire(Date.now());
    return this.#origins.get(hash);
  }

  set(hash: string, origin: string): void {
    const now = Date.now();
    this.#expire(now);
    if (this.#origins.has(hash)) return; // keeps its first (earlier) expiry and the order of both lists
    if (this.max === 0) return;
    if (this.#origins.size >= this.max) this.#dropOldest();
    this.#origins.set(hash, origin);
    this.#times.push(now);
  }

  #expire(now: number): void {
    if (this.ttlMs <= 0) return;
    while (this.#head < this.#times.length && this.#times[this.#head]! + this.ttlMs <= now) this.#dropOldest();
  }

  #dropOldest(): void {
    this.#origins.delete(this.#origins.keys().next().value!);
    this.#head++;
    // compact the time list now and then instead of shifting it on every removal
    if (this.#head > 4096 && this.#head * 2 > this.#times.length) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
