// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot, p, type Event } from "../../../shared/sdk/index.js";

/** The cache: a claim set (JetStream stream CLAIMS_dedup on NATS, memory in library mode); see ARCHITECTURE.md. */
export const DEDUP_CLAIMS = "dedup";
/** What IntelMQ documents as filter_keys when none is given. */
const DEFAULT_FILTER_KEYS = ["raw", "time.observation"];

export const params = z.object({
  filter_type: z.enum(["blacklist", "whitelist"]).default("blacklist")
    .describe("How filter_keys is read: blacklist hashes all keys but these, whitelist only these"),
  filter_keys: p.list().nullable().default(null)
    .describe("Keys (a list or a comma-separated string) for filter_type; time.observation is never hashed. Unset: raw,time.observation"),
  bypass: p.bool().default(false).describe("Forward every message without looking at the cache"),
  local_cache_entries: p.int().pipe(z.number().int().min(1024)).default(2 * 1024 * 1024)
    .describe("Ours: hashes the cache holds in each instance's memory (20-40 bytes each, taken as they come: 1 million take 20-40 MiB); when full, the older half is forgotten before its TTL"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds a hash is remembered: the TTL of the dedup cache"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS claim set \"dedup\""),
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
    const cache = prm.bypass ? null : await ctx.claims(DEDUP_CLAIMS, prm.redis_cache_ttl, { maxEntries: prm.local_cache_entries });
    /**
     * A batch's hashes claimed at once, the event's origin as owner: an event passes when its
     * hash is new or already held by its own origin. The origin is stable across redeliveries:
     * after a crash between claiming and acknowledging the input, the redelivered input finds
     * its own claim and is forwarded again instead of being lost as a "duplicate" of itself.
     */
    const decide = async (events: readonly Event[], origins: readonly string[]): Promise<(Event | null)[]> => {
      const held = await cache!.claim(events.map((e) => e.hash(hashOpts)), origins);
      return events.map((e, i) => {
        if (held[i]) return e;
        ctx.log.debug("Dropped message.");
        return null;
      });
    };
    return {
      async process(event, meta) {
        if (cache === null) return event;
        return (await decide([event], [meta.origin]))[0]!;
      },
      /** The same decisions for a batch, in one round trip for all its new hashes. */
      async processBatch(events, metas) {
        if (cache === null) return events;
        return decide(events, metas.map((m) => m.origin));
      },
      async shutdown() {
        await cache?.close();
      },
    };
  },
});
