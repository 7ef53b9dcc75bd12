// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot, p } from "../../../shared/runtime/index.js";

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
    const mine = new OwnWrites(prm.redis_cache_ttl * 1000);
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
        if (await cache.create(hash, meta.origin)) {
          mine.set(hash, meta.origin);
          return event;
        }
        if ((await cache.get(hash)) === meta.origin) return event;
        ctx.log.debug("Dropped message.");
        return null;
      },
    };
  },
});

/**
 * The hashes this instance created in the shared cache, with their origins, for at most the
 * cache's TTL (counted from our own write, so never longer than the shared entry lives) and at
 * most MAX_OWN entries (the oldest go first). Only our own writes are kept: an entry learned
 * from another instance has an unknown age.
 */
const MAX_OWN = 500_000;
class OwnWrites {
  readonly #entries = new Map<string, { origin: string; until: number }>();
  constructor(readonly ttlMs: number) {}

  get(hash: string): string | undefined {
    const e = this.#entries.get(hash);
    if (!e) return undefined;
    if (this.ttlMs > 0 && e.until <= Date.now()) {
      this.#entries.delete(hash);
      return undefined;
    }
    return e.origin;
  }

  set(hash: string, origin: string): void {
    if (this.#entries.size >= MAX_OWN) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(hash, { origin, until: Date.now() + this.ttlMs });
  }
}
