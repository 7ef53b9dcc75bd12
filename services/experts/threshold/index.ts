// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Threshold expert: counts similar events (by hash, as the deduplicator) within a time window
 * and forwards only the one that makes the count reach the threshold (IntelMQ's
 * intelmq.bots.experts.threshold.expert).
 */
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

const positive = (what: string) => p.int().pipe(z.number().int().positive(`Invalid ${what} specified, use a positive integer.`));

export const params = z.object({
  threshold: positive("threshold").default(100).describe("The count at which the event is forwarded (once, until the count expires)"),
  redis_cache_ttl: positive("timeout").default(3600).describe("Seconds a count is kept after the last similar event: the TTL of the cache bucket"),
  filter_type: z.enum(["blacklist", "whitelist"]).default("blacklist").describe("How filter_keys is read: blacklist hashes all keys but these, whitelist only these"),
  filter_keys: p.list().default(["raw", "time.observation"]).describe("Keys for filter_type; time.observation is never hashed"),
  add_keys: z.record(z.string(), z.unknown()).default({ comment: "Threshold reached" }).describe("Fields set on the forwarded event (extra.count is always set)"),
  bypass: p.bool().default(false).describe("Forward every event without counting"),
  timeout: z.unknown().optional().describe("Accepted and ignored, as IntelMQ 3 does"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is a NATS KV bucket of this bot"),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(11).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "threshold",
  intelmq: "intelmq.bots.experts.threshold.expert",
  description: "Forwards the event that makes the count of similar events within the TTL reach the threshold, and drops the others",
  params,
  create: async (prm, ctx) => {
    const hashOpts = { filterKeys: new Set(prm.filter_keys), filterType: prm.filter_type };
    // One bucket per bot id: its TTL is this bot's, and two threshold bots never share counts
    // (IntelMQ separates them with redis_cache_db).
    const cache = prm.bypass ? null : await ctx.cache(`threshold-${ctx.botId}`, prm.redis_cache_ttl);
    return {
      async process(event) {
        if (cache === null) return event;
        const hash = event.hash(hashOpts);
        const count = Number((await cache.get(hash)) ?? 0) + 1;
        // A put, not an increment: every similar event restarts the TTL, as IntelMQ's set does.
        await cache.put(hash, String(count));
        if (count !== prm.threshold) {
          ctx.log.debug("Dropped message.");
          return null;
        }
        event.update(prm.add_keys);
        event.add("extra.count", count, { overwrite: true });
        return event;
      },
    };
  },
});
