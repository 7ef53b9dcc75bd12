// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Gethostbyname expert (IntelMQ's intelmq.bots.experts.gethostbyname.expert): source/destination.ip
 * from the address of source/destination.fqdn (or the host of the url).
 */
import { lookup } from "node:dns/promises";
import { z } from "zod";
import { DnsClient, DnsLookupError, InvalidArgument, DnsCache, defineBot, dnsParams, p, urlsplit } from "../../../shared/sdk/index.js";

export const CACHE_BUCKET = "gethostbyname";
/** getaddrinfo's EAI_AGAIN, the one failure IntelMQ does not ignore by default. */
const EAI_AGAIN = -3;

export const params = z.object({
  fallback_to_url: p.bool().default(true).describe("Resolve the host of the url when there is no fqdn"),
  gaierrors_to_ignore: p.list().nullable().default(null)
    .describe("getaddrinfo error numbers to take as \"no address\" besides -2, -4, -5, -8, -11; -3 (EAI_AGAIN) also takes timeouts and server failures as \"no address\" instead of failing the message"),
  overwrite: p.bool().default(false).describe("Resolve and replace also where the ip is set"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(0)
    .describe("Ours: seconds an answer (also \"no address\") is remembered in the NATS KV bucket \"gethostbyname\" (0: no cache, as IntelMQ)"),
  ...dnsParams,
}).strict();

export default defineBot({
  kind: "expert",
  name: "gethostbyname",
  intelmq: "intelmq.bots.experts.gethostbyname.expert",
  description: "Adds source/destination.ip from the address of source/destination.fqdn (or the url's host)",
  params,
  create: async (prm, ctx) => {
    const ignore = (prm.gaierrors_to_ignore ?? []).map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n)) throw new InvalidArgument("gaierrors_to_ignore", x, "int", "the bot documentation");
      return n;
    });
    const ignoreFailures = ignore.includes(EAI_AGAIN);
    // With dns_server, the configured servers; without, the host's getaddrinfo as IntelMQ's
    // socket.gethostbyname (hosts file included).
    const dns = prm.dns_server ? new DnsClient(prm) : null;
    const cache = new DnsCache(prm.cache_ttl > 0 ? await ctx.cache(CACHE_BUCKET, prm.cache_ttl) : null, prm.cache_ttl);

    async function resolve(name: string): Promise<string | null> {
      if (dns) return (await dns.a(name))?.[0] ?? (await dns.aaaa(name))?.[0] ?? null;
      try {
        return (await lookup(name, { family: 4 })).address;
      } catch (err) {
        const code = (err as { code?: string }).code ?? "EUNKNOWN";
        if (code === "ENOTFOUND" || code === "ENODATA") return null;
        throw new DnsLookupError(name, "A", code, err);
      }
    }

    async function address(name: string): Promise<string | null> {
      try {
        return (await cache.through(name, async () => ({ value: (await resolve(name)) ?? "" }))) || null;
      } catch (err) {
        if (!ignoreFailures || !(err instanceof DnsLookupError)) throw err;
        ctx.log.debug(`Ignored error ${err.code} for hostname ${JSON.stringify(name)}.`);
        return null;
      }
    }

    return {
      async process(event) {
        for (const target of ["source.", "destination."]) {
          if (event.has(`${target}ip`) && !prm.overwrite) continue;
          let fqdn = event.get(`${target}fqdn`) as string | undefined;
          const url = event.get(`${target}url`) as string | undefined;
          if (!fqdn && prm.fallback_to_url && url) {
            const host = hostname(url);
            if (host && event.isValid(`${target}fqdn`, host)) fqdn = host;
          }
          if (!fqdn) continue;
          const ip = await address(fqdn);
          if (ip !== null) event.add(`${target}ip`, ip, { raiseFailure: false, overwrite: prm.overwrite });
        }
        return event;
      },
    };
  },
});

/** The host of a URL as Python's urlsplit().hostname: no user info, no port, lower case. */
function hostname(url: string): string | null {
  const netloc = urlsplit(url)?.netloc;
  if (!netloc) return null;
  const host = netloc.slice(netloc.lastIndexOf("@") + 1);
  if (host.startsWith("[")) return null; // an IPv6 literal is no name
  return host.replace(/:[^:]*$/, "").toLowerCase() || null;
}
