// SPDX-License-Identifier: AGPL-3.0-only
/**
 * RIPE expert: abuse contacts of IP addresses and ASNs from RIPEstat and the RIPE database's
 * REST API, and the geolocation of IP addresses from RIPEstat (IntelMQ's experts.ripe).
 */
import { z } from "zod";
import {
  defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse,
  type BotContext, type Event, type ExpertImpl, type HttpClient, type LookupCache,
} from "../../../shared/sdk/index.js";

export const params = z.object({
  ...httpParams,
  mode: z.enum(["append", "replace"]).default("append")
    .describe("append: add the found contacts to the existing ones (and keep existing geolocation); replace: overwrite them"),
  query_ripe_db_asn: p.bool().default(true).describe("Query the RIPE database for the abuse contact of source/destination.asn"),
  query_ripe_db_ip: p.bool().default(true).describe("Query the RIPE database for the abuse contact of source/destination.ip"),
  query_ripe_stat_asn: p.bool().default(true).describe("Query RIPEstat for the abuse contact of source/destination.asn"),
  query_ripe_stat_ip: p.bool().default(true).describe("Query RIPEstat for the abuse contact of source/destination.ip"),
  query_ripe_stat_geolocation: p.bool().default(true).describe("Query RIPEstat for the geolocation (cc, city, latitude, longitude) of source/destination.ip"),
  ripe_db_url: z.string().default("https://rest.db.ripe.net")
    .describe("Ours: base URL of the RIPE database REST API (IntelMQ has it built in)"),
  ripe_stat_url: z.string().default("https://stat.ripe.net")
    .describe("Ours: base URL of RIPEstat's data API (IntelMQ has it built in)"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds an answer is remembered (the TTL of the KV bucket \"ripe\"); 0: no cache"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"ripe\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(10).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
}).strict();
type Params = z.infer<typeof params>;

export const RIPE_BUCKET = "ripe";
type QueryType = "db_ip" | "db_asn" | "stat" | "stat_geolocation";
/** What a lookup found: contacts, a geolocation, or nothing. */
type Found = string[] | Record<string, unknown> | null;
const GEO_FIELDS: readonly [string, string][] = [["cc", "country"], ["latitude", "latitude"], ["longitude", "longitude"], ["city", "city"]];

/** Follows keys and indexes; undefined where one is missing (IntelMQ: KeyError/IndexError = no data). */
function dig(url: string, v: unknown, path: (string | number)[]): unknown {
  for (const k of path) {
    if (typeof k === "number") {
      if (!Array.isArray(v)) throw new MalformedResponse(url, `a list expected at [${k}]`);
      v = v[k];
    } else {
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new MalformedResponse(url, `an object expected at .${k}`);
      v = (v as Record<string, unknown>)[k];
    }
    if (v === undefined) return undefined;
  }
  return v;
}

/** Comma-separated addresses as a list without empty and repeated ones. */
function splitContacts(s: unknown, url: string): string[] {
  if (typeof s !== "string") throw new MalformedResponse(url, "the e-mail address is not a string");
  return [...new Set(s.split(","))].filter((x) => x !== "");
}

export class RipeLookup {
  #warnedMaintenance = new Set<string>();
  constructor(readonly prm: Params, readonly http: HttpClient, readonly cache: LookupCache | null, readonly ctx: BotContext) {}

  url(type: QueryType, resource: string): string {
    const db = this.prm.ripe_db_url.replace(/\/+$/, "");
    const stat = this.prm.ripe_stat_url.replace(/\/+$/, "");
    const r = resource; // an IP address or AS number, sent as IntelMQ does
    switch (type) {
      case "db_ip": return `${db}/abuse-contact/${r}.json`;
      case "db_asn": return `${db}/abuse-contact/as${r}.json`;
      case "stat": return `${stat}/data/abuse-contact-finder/data.json?resource=${r}`;
      case "stat_geolocation": return `${stat}/data/maxmind-geo-lite/data.json?resource=${r}`;
    }
  }

  async query(type: QueryType, resource: string): Promise<Found> {
    const key = `${type}:${resource}`;
    const cached = await this.cache?.get(key);
    if (cached !== undefined) return cached as Found;
    const url = this.url(type, resource);
    const res = await this.http.get(url);
    if (res.status !== 200) {
      if (res.status === 404) {
        // "No abuse contact found for ..." is an answer; any other 404 is not
        let msg: unknown;
        try { msg = (res.json() as { message?: unknown }).message; } catch { /* not JSON: an error below */ }
        if (typeof msg === "string" && msg.startsWith("No abuse contact found for ")) {
          await this.cache?.set(key, null);
          return null;
        }
      }
      throw new HttpStatusError(url, res.status, res.text().slice(0, 200));
    }
    const data = res.json();
    const status = data !== null && typeof data === "object" ? (data as { data_call_status?: unknown }).data_call_status : undefined;
    if (typeof status === "string" && status.startsWith("maintenance") && !this.#warnedMaintenance.has(type)) {
      this.#warnedMaintenance.add(type);
      this.ctx.log.warn(`The API call ${type} is currently under maintenance. Response: ${JSON.stringify(status)}. This warning is only given once per bot run.`);
    }
    let found: Found = null;
    if (type === "stat_geolocation") {
      const loc = dig(url, data, ["data", "located_resources", 0, "locations", 0]);
      if (loc !== undefined) {
        if (loc === null || typeof loc !== "object" || Array.isArray(loc)) throw new MalformedResponse(url, "a location is not an object");
        const geo = { ...(loc as Record<string, unknown>) };
        if (geo.country === "?") delete geo.country;
        found = Object.keys(geo).length ? geo : null;
      }
    } else {
      const path = type === "stat" ? ["data", "anti_abuse_contacts", "abuse_c", 0, "email"] : ["abuse-contacts", "email"];
      const mail = dig(url, data, path);
      if (mail !== undefined) {
        const list = splitContacts(mail, url);
        found = list.length ? list : null;
      }
    }
    await this.cache?.set(key, found);
    return found;
  }
}

export default defineBot({
  kind: "expert",
  name: "ripe",
  intelmq: "intelmq.bots.experts.ripe.expert",
  description: "Adds abuse contacts (RIPE database, RIPEstat) and geolocation (RIPEstat) of source/destination IP addresses and ASNs",
  params,
  create: async (prm, ctx): Promise<ExpertImpl> => {
    const http = httpClient(prm, ctx.log);
    const lookup = new RipeLookup(prm, http, await lookupCache(ctx, RIPE_BUCKET, prm.redis_cache_ttl), ctx);
    const asList = (f: Found): string[] => (Array.isArray(f) ? f : []);
    return {
      async process(event: Event) {
        for (const target of ["source.", "destination."]) {
          const abuseKey = `${target}abuse_contact`;
          const abuse = new Set<string>(prm.mode === "append" && event.has(abuseKey) ? String(event.get(abuseKey)).split(",") : []);
          const asn = event.get(`${target}asn`);
          if (asn !== undefined && asn !== null) {
            const a = String(asn);
            if (prm.query_ripe_stat_asn) for (const m of asList(await lookup.query("stat", a))) abuse.add(m);
            if (prm.query_ripe_db_asn) for (const m of asList(await lookup.query("db_asn", a))) abuse.add(m);
          }
          const ip = event.get(`${target}ip`);
          if (ip !== undefined && ip !== null) {
            const i = String(ip);
            if (prm.query_ripe_stat_ip) for (const m of asList(await lookup.query("stat", i))) abuse.add(m);
            if (prm.query_ripe_db_ip) for (const m of asList(await lookup.query("db_ip", i))) abuse.add(m);
            if (prm.query_ripe_stat_geolocation) {
              const info = await lookup.query("stat_geolocation", i);
              const geo = info && !Array.isArray(info) ? info : {};
              for (const [local, ripe] of GEO_FIELDS) {
                if (ripe in geo) event.add(`${target}geolocation.${local}`, geo[ripe], { overwrite: prm.mode === "replace" });
              }
            }
          }
          event.add(abuseKey, [...abuse].join(","), { overwrite: true });
        }
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
