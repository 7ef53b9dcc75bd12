// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Cymru whois expert (IntelMQ's intelmq.bots.experts.cymru_whois.expert): ASN, network, country,
 * registry, allocation date and AS name of source/destination.ip from Team Cymru's DNS service
 * (TXT records under origin.asn.cymru.com, origin6.asn.cymru.com and asn.cymru.com).
 */
import { z } from "zod";
import {
  DnsClient, InvalidValue, DnsCache, defineBot, dnsParams, p, parseIp, parseNetwork, reverseLabels,
} from "../../../shared/sdk/index.js";

export const CACHE_BUCKET = "cymru_whois";

export const params = z.object({
  overwrite: p.bool().default(false).describe("Replace fields the event already has"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds an answer (also \"no data\") is remembered: the TTL of the cache bucket \"cymru_whois\" (0: no cache)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"cymru_whois\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(5).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
  origin_zone: z.string().default("asn.cymru.com").describe("Ours: the zone asked (<reversed ip>.origin[6].<zone>, AS<asn>.<zone>)"),
  ...dnsParams,
}).strict();

type Result = Record<string, string>;

/** Cymru's TXT fields: '|'-separated, quotes and blanks stripped, NA and empty are no value. */
function fields(text: string): (string | null)[] {
  return text.split("|").map((x) => x.replaceAll('"', "").trim()).map((x) => (x === "NA" || x === "" ? null : x));
}

function malformed(query: string, text: string): InvalidValue {
  return new InvalidValue("cymru answer", text, `an answer to ${query} in Cymru's format (fields separated by '|')`);
}

/** "23028 | 216.90.108.0/24 | US | arin | 1998-09-25" */
function parseOrigin(query: string, text: string): Result {
  const f = fields(text);
  if (f.length < 5) throw malformed(query, text);
  const r: Result = {};
  // several origin ASNs ("9395 17431"): the first
  const asn = f[0]?.split(" ")[0];
  if (asn !== undefined && /^\d+$/.test(asn)) r.asn = asn;
  if (f[1]) r.network = f[1];
  if (f[2]) r["geolocation.cc"] = f[2];
  if (f[3]) r.registry = f[3];
  if (f[4]) r.allocated = `${f[4]}T00:00:00+00:00`;
  return r;
}

function size(network: string): bigint {
  const n = parseNetwork(network, false);
  return n ? 1n << BigInt((n.version === 4 ? 32 : 128) - n.prefix) : -1n;
}

export default defineBot({
  kind: "expert",
  name: "cymru_whois",
  intelmq: "intelmq.bots.experts.cymru_whois.expert",
  description: "Adds ASN, network, country, registry, allocation date and AS name of source/destination.ip from Team Cymru's whois DNS service",
  params,
  create: async (prm, ctx) => {
    const dns = new DnsClient(prm);
    const cache = new DnsCache(prm.redis_cache_ttl > 0 ? await ctx.cache(CACHE_BUCKET, prm.redis_cache_ttl) : null, prm.redis_cache_ttl);

    async function query(ip: string): Promise<Result | null> {
      const v6 = parseIp(ip)?.version === 6;
      const name = `${reverseLabels(ip)}.origin${v6 ? "6" : ""}.${prm.origin_zone}`;
      const answers = await dns.txt(name);
      if (!answers || answers.length === 0) return null;
      // More than one network announced: the most specific one.
      let best: Result | null = null;
      for (const a of answers) {
        const r = parseOrigin(name, a);
        if (best === null || (r.network !== undefined && (best.network === undefined || size(r.network) < size(best.network)))) best = r;
      }
      if (best?.asn !== undefined) {
        const asName = `AS${best.asn}.${prm.origin_zone}`;
        const info = await dns.txt(asName);
        if (info && info.length) {
          const f = fields(info[0]!);
          if (f.length < 5) throw malformed(asName, info[0]!);
          if (f[4]) best.as_name = f[4];
        }
      }
      return best;
    }

    return {
      async process(event) {
        for (const key of ["source.", "destination."]) {
          const ip = event.get(`${key}ip`);
          if (ip === undefined) continue;
          const addr = String(ip);
          // the zone is part of the key: bots asking different zones share the bucket
          const ck = `${prm.origin_zone}|${parseIp(addr)?.version ?? 4}_${addr}`;
          const json = await cache.through(ck, async () => {
            const r = await query(addr);
            if (!r) ctx.log.info(`Got no result from Cymru for IP address ${JSON.stringify(addr)}.`);
            return { value: JSON.stringify(r) };
          });
          const result = JSON.parse(json) as Result | null;
          if (!result) continue;
          for (const [k, v] of Object.entries(result)) {
            if (k === "registry" && v === "other") continue;
            event.add(`${key}${k}`, v, { overwrite: prm.overwrite });
          }
        }
        return event;
      },
    };
  },
});
