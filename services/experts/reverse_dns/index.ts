// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Reverse DNS expert (IntelMQ's intelmq.bots.experts.reverse_dns.expert): source/destination.reverse_dns
 * from the PTR record of the address.
 */
import { z } from "zod";
import { DnsClient, DnsCache, defineBot, dnsParams, p, parseIp } from "../../../shared/sdk/index.js";

export const CACHE_BUCKET = "reverse_dns";
/** Cached for an address without a usable PTR record (IntelMQ's marker). */
const NO_NAME = "__dns-exception";

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace a reverse_dns the event already has"),
  cache_ttl_invalid_response: p.int().pipe(z.number().int().min(0)).default(60)
    .describe("Seconds an answer without a valid name (PTR records that are no valid FQDN) is remembered"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds a name (and an NXDOMAIN) is remembered: the TTL of the cache bucket \"reverse_dns\" (0: no cache)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"reverse_dns\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(7).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
  ...dnsParams,
}).strict();

export default defineBot({
  kind: "expert",
  name: "reverse_dns",
  intelmq: "intelmq.bots.experts.reverse_dns.expert",
  description: "Adds source/destination.reverse_dns from the PTR record of the IP address",
  params,
  create: async (prm, ctx) => {
    const dns = new DnsClient(prm);
    const cache = new DnsCache(prm.redis_cache_ttl > 0 ? await ctx.cache(CACHE_BUCKET, prm.redis_cache_ttl) : null, prm.redis_cache_ttl);
    return {
      async process(event) {
        for (const key of ["source.", "destination."]) {
          const ip = event.get(`${key}ip`);
          if (ip === undefined) continue;
          if (event.has(`${key}reverse_dns`) && !prm.overwrite) continue;
          const addr = String(ip);
          const ck = `${parseIp(addr)?.version ?? 4}_${addr}`;
          const name = await cache.through(ck, async () => {
            // A failed lookup (timeout, SERVFAIL) throws: the message is retried, then dumped.
            const names = await dns.ptr(addr);
            if (names === null) return { value: NO_NAME };
            const valid = names.find((n) => event.isValid("source.reverse_dns", n));
            if (valid !== undefined) return { value: valid };
            ctx.log.warn(`No valid name in the PTR records of ${addr}: ${JSON.stringify(names)}`);
            return { value: NO_NAME, ttl: prm.cache_ttl_invalid_response };
          });
          if (name !== NO_NAME) event.add(`${key}reverse_dns`, name, { overwrite: prm.overwrite });
        }
        return event;
      },
    };
  },
});
