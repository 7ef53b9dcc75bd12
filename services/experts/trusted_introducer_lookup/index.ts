// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Trusted Introducer lookup expert: source.abuse_contact from the contact address of the team
 * whose constituency (domains, ASNs) in the Trusted Introducer directory covers source.fqdn or
 * source.asn (IntelMQ's experts.trusted_introducer_lookup).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event } from "../../../shared/sdk/index.js";

export const TI_BUCKET = "trusted_introducer";

export const params = z.object({
  ...httpParams,
  order: p.list().default(["domain", "asn"]).describe("What is looked up, in this order: domain (source.fqdn), asn (source.asn)"),
  overwrite: p.bool().default(true).describe("Replace an existing source.abuse_contact (also by nothing, when nothing is found)"),
  url: z.string().default("https://www.trusted-introducer.org/directory/teams.json")
    .describe("Ours: the directory's URL (IntelMQ has it built in)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Ours: seconds the directory is kept before it is downloaded again (KV bucket \"trusted_introducer\"); 0: downloaded at each start only"),
}).strict();

interface Directory { domain: Record<string, string>; asn: Record<string, string> }

/** The contact address of each team by constituency domain (wildcards resolved) and ASN. */
function index(url: string, teams: unknown): Directory {
  if (!Array.isArray(teams)) throw new MalformedResponse(url, "not a list of teams");
  const dir: Directory = { domain: {}, asn: {} };
  for (const t of teams as { emails?: { address: string; usage: string[] }[]; constituency?: { domains?: string[]; asns?: (number | string)[] } }[]) {
    if (!Array.isArray(t?.emails)) continue;
    const contact = t.emails.find((m) => Array.isArray(m.usage) && m.usage.includes("contact"))?.address ?? "";
    for (const d of t.constituency?.domains ?? []) {
      if (d.includes(".*")) continue; // wildcard TLDs
      dir.domain[d.replace("*.", "")] = contact;
    }
    for (const a of t.constituency?.asns ?? []) dir.asn[String(a)] = contact;
  }
  return dir;
}

export default defineBot({
  kind: "expert",
  name: "trusted_introducer_lookup",
  intelmq: "intelmq.bots.experts.trusted_introducer_lookup.expert",
  description: "Sets source.abuse_contact from the Trusted Introducer directory (constituency domains and ASNs)",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log);
    const cache = await lookupCache(ctx, TI_BUCKET, prm.cache_ttl);
    const order = prm.order.map((x) => x.trim());
    let dir: Directory | null = null;
    let loadedAt = 0;
    async function directory(): Promise<Directory> {
      if (dir && (prm.cache_ttl === 0 || Date.now() - loadedAt < prm.cache_ttl * 1000)) return dir;
      let d = await cache?.get(prm.url) as Directory | undefined;
      if (d === undefined) {
        const res = await http.get(prm.url);
        if (res.status !== 200) throw new HttpStatusError(res.url, res.status, res.text().slice(0, 200));
        d = index(res.url, res.json());
        await cache?.set(prm.url, d);
      }
      dir = d;
      loadedAt = Date.now();
      return d;
    }
    return {
      async process(event: Event) {
        const fqdn = event.get("source.fqdn");
        const asn = event.get("source.asn");
        const lookable = (order.includes("domain") && typeof fqdn === "string") || (order.includes("asn") && asn !== undefined && asn !== null);
        if (order.length && !lookable) {
          // nothing to look up: IntelMQ adds "nothing", which removes an existing contact with overwrite
          if (prm.overwrite) event.add("source.abuse_contact", null, { overwrite: true });
          return event;
        }
        const d = await directory();
        let contact: string | null = null;
        for (const entity of order) {
          if (contact !== null) break;
          if (entity === "domain" && typeof fqdn === "string") {
            const parts = fqdn.split(".");
            for (; parts.length && contact === null; parts.shift()) contact = d.domain[parts.join(".")] ?? null;
          } else if (entity === "asn" && asn !== undefined && asn !== null) {
            contact = d.asn[String(asn)] ?? null;
          }
        }
        event.add("source.abuse_contact", contact, { overwrite: prm.overwrite });
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
