// SPDX-License-Identifier: AGPL-3.0-only
/**
 * RDAP expert: finds the RDAP server of source.fqdn's registered domain through IANA's bootstrap
 * file (and servers of one's own) and sets source.abuse_contact to the e-mail address of the
 * first role of rdap_order that has one (IntelMQ's experts.rdap).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  ConfigurationError, defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse,
  type BotContext, type Event, type HttpClient,
} from "../../../shared/sdk/index.js";

export const RDAP_BUCKET = "rdap";

const service = z.union([z.string(), z.object({ url: z.string(), auth: z.object({ type: z.string(), token: z.string().optional() }).optional() })]);
const json = <T extends z.ZodType>(s: T) => z.preprocess((v) => (typeof v === "string" && /^\s*[[{]/.test(v) ? JSON.parse(v) : v), s);

export const params = z.object({
  ...httpParams,
  rdap_order: json(p.list()).default(["abuse", "technical", "administrative", "registrant", "registrar"])
    .describe("Roles whose e-mail address is taken, the first found wins"),
  rdap_bootstrapped_servers: json(z.record(z.string(), service)).default({})
    .describe("Servers of one's own by domain suffix: a base URL, or {url, auth: {type: jwt, token}}; they take precedence over IANA's"),
  rdap_bootstrap_url: z.string().nullable().default("https://data.iana.org/rdap/dns.json")
    .describe("Ours: IANA's RDAP bootstrap file for DNS, downloaded at the first lookup (IntelMQ: at start); null: none"),
  rdap_bootstrap_file: z.string().nullable().default(null)
    .describe("Ours: a local copy of the bootstrap file, read instead of downloading it"),
  overwrite: p.bool().default(true).describe("Replace an existing source.abuse_contact"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds an answer is remembered (KV bucket \"rdap\"); 0: no cache"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"rdap\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(8).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
}).strict();
type Params = z.infer<typeof params>;
interface Service { url: string; auth?: { type: string; token?: string } }

/** The domain suffix -> server directory: IANA's bootstrap file, then the configured servers. */
async function directory(prm: Params, http: HttpClient): Promise<Map<string, Service>> {
  const dir = new Map<string, Service>();
  let boot: unknown = null;
  if (prm.rdap_bootstrap_file) boot = JSON.parse(readFileSync(prm.rdap_bootstrap_file, "utf8"));
  else if (prm.rdap_bootstrap_url) {
    const res = await http.get(prm.rdap_bootstrap_url);
    if (res.status !== 200) throw new HttpStatusError(res.url, res.status);
    boot = res.json();
  }
  if (boot !== null) {
    const services = (boot as { services?: unknown }).services;
    if (!Array.isArray(services)) throw new MalformedResponse(prm.rdap_bootstrap_file ?? prm.rdap_bootstrap_url ?? "", "no list of services");
    for (const s of services as [string[], string[]][]) for (const tld of s[0]) dir.set(tld, { url: s[1][0]! });
  }
  for (const [suffix, s] of Object.entries(prm.rdap_bootstrapped_servers)) dir.set(suffix, typeof s === "string" ? { url: s } : s);
  return dir;
}

/** The first e-mail address of each vCard entry list of a jCard. */
function emails(vcardArray: unknown): string[] {
  const out: string[] = [];
  if (!Array.isArray(vcardArray)) return out;
  for (const entry of vcardArray) {
    if (!Array.isArray(entry)) continue;
    const mail = entry.find((prop) => Array.isArray(prop) && prop[0] === "email") as unknown[] | undefined;
    if (mail) out.push(String(mail[3]));
  }
  return out;
}

type Entity = { roles?: unknown; entities?: unknown; vcardArray?: unknown };

/** role -> e-mail address (or null) of the answer's entities and their sub-entities. */
function roleEmails(answer: unknown, url: string, ctx: BotContext, domain: string): Map<string, string | null> {
  const roles = new Map<string, string | null>();
  const entities = (answer as { entities?: unknown } | null)?.entities;
  if (!Array.isArray(entities)) return roles;
  const rolesOf = (e: Entity): string[] => {
    if (!Array.isArray(e.roles)) throw new MalformedResponse(url, "an entity without a list of roles");
    return e.roles as string[];
  };
  for (const entity of entities as unknown[]) {
    if (entity === null || typeof entity !== "object" || Array.isArray(entity)) {
      ctx.log.warn(`Invalid type '${typeof entity}' in entities of response for domain '${domain}' found.`);
      continue;
    }
    const e = entity as Entity;
    const own = rolesOf(e);
    if (own.includes("removed")) continue;
    for (const role of own) {
      if (Array.isArray(e.entities)) {
        for (const sub of e.entities as unknown[]) {
          if (sub === null || typeof sub !== "object" || Array.isArray(sub)) {
            ctx.log.warn(`Invalid type '${typeof sub}' in entities of response for domain '${domain}' found.`);
            continue;
          }
          const s = sub as Entity;
          for (const subRole of rolesOf(s)) if ("vcardArray" in s) roles.set(subRole, emails(s.vcardArray)[0] ?? null);
        }
      }
      if ("vcardArray" in e) roles.set(role, emails(e.vcardArray)[0] ?? null);
    }
  }
  return roles;
}

export default defineBot({
  kind: "expert",
  name: "rdap",
  intelmq: "intelmq.bots.experts.rdap.expert",
  description: "Sets source.abuse_contact from the RDAP data of source.fqdn's domain",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log);
    const cache = await lookupCache(ctx, RDAP_BUCKET, prm.redis_cache_ttl);
    for (const [suffix, s] of Object.entries(prm.rdap_bootstrapped_servers)) {
      if (typeof s !== "string" && s.auth && s.auth.type !== "jwt") {
        throw new ConfigurationError("rdap_bootstrapped_servers", `Authentication type ${JSON.stringify(s.auth.type)} (configured for service ${JSON.stringify(suffix)}) is not implemented`);
      }
    }
    let dir: Map<string, Service> | null = null;

    async function lookup(fqdn: string): Promise<string | null> {
      dir ??= await directory(prm, http);
      const parts = fqdn.split(".");
      let suffix: string | null = null;
      while (parts.length) {
        if (dir.has(parts.join("."))) { suffix = parts.join("."); break; }
        parts.shift();
      }
      if (suffix === null) return null;
      const rest = fqdn.replace(`.${suffix}`, "").split(".");
      const domain = `${rest[rest.length - 1]}.${suffix}`;
      const server = dir.get(suffix)!;
      const headers: Record<string, string> = server.auth?.type === "jwt" ? { authorization: `Bearer ${server.auth.token ?? ""}` } : {};
      const url = `${server.url}domain/${domain}`;
      const res = await http.get(url, { headers });
      if (res.status === 404) {
        ctx.log.debug("Treating server response 404 as no data.");
        return null;
      }
      if (res.status < 200 || res.status > 299) {
        ctx.log.debug(`RDAP Server '${server.url}' responded with '${res.status}' for domain '${domain}'.`);
        throw new HttpStatusError(url, res.status, res.text().slice(0, 200));
      }
      const roles = roleEmails(res.json(), url, ctx, domain);
      for (const role of prm.rdap_order) {
        const mail = roles.get(role);
        if (mail) return mail;
      }
      return null;
    }

    return {
      async process(event: Event) {
        const fqdn = event.get("source.fqdn");
        if (typeof fqdn !== "string") return event;
        // the answer depends on the order of roles and the servers: bots configured differently do not share it
        const key = `rdap_${fqdn} ${prm.rdap_order.join(",")} ${JSON.stringify(prm.rdap_bootstrapped_servers)}`;
        let mail = await cache?.get(key) as string | null | undefined;
        if (mail === undefined) {
          mail = await lookup(fqdn);
          await cache?.set(key, mail);
        }
        if (mail) event.add("source.abuse_contact", mail, { overwrite: prm.overwrite });
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
