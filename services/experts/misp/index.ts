// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP expert: looks up source.ip among a MISP instance's attributes and sets the UUIDs of the
 * attribute found and of its event (IntelMQ's experts.misp, there through PyMISP).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event } from "../../../shared/sdk/index.js";

export const MISP_BUCKET = "misp";

export const params = z.object({
  ...httpParams,
  misp_url: z.string().describe("URL of the MISP server (with trailing '/')"),
  misp_key: p.secret(z.string()).describe("API key (Authorization header) of a MISP user"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(3600)
    .describe("Ours: seconds an answer is remembered (KV bucket \"misp\"); 0: no cache"),
}).strict();

interface Found { attribute: string; event: string }

export default defineBot({
  kind: "expert",
  name: "misp",
  intelmq: "intelmq.bots.experts.misp.expert",
  description: "Sets misp.attribute_uuid and misp.event_uuid from a MISP attribute search for source.ip",
  params,
  create: async (prm, ctx) => {
    const base = prm.misp_url.endsWith("/") ? prm.misp_url : `${prm.misp_url}/`;
    const http = httpClient(prm, ctx.log, { "authorization": prm.misp_key, "accept": "application/json", "content-type": "application/json" });
    const cache = await lookupCache(ctx, MISP_BUCKET, prm.cache_ttl);
    /** The first attribute with this value (MISP's restSearch, one result), or null. */
    async function search(value: string): Promise<Found | null> {
      const url = `${base}attributes/restSearch`;
      const res = await http.request(url, { method: "POST", body: JSON.stringify({ returnFormat: "json", value, page: 1, limit: 1 }) });
      if (res.status !== 200) throw new HttpStatusError(url, res.status, res.text().slice(0, 200));
      const attrs = (res.json() as { response?: { Attribute?: unknown } } | null)?.response?.Attribute;
      if (!Array.isArray(attrs)) throw new MalformedResponse(url, "no response.Attribute list");
      if (attrs.length === 0) return null;
      const a = attrs[0] as { uuid?: unknown; Event?: { uuid?: unknown } };
      if (typeof a.uuid !== "string" || typeof a.Event?.uuid !== "string") throw new MalformedResponse(url, "an attribute without uuid or Event.uuid");
      return { attribute: a.uuid, event: a.Event.uuid };
    }
    return {
      async process(event: Event) {
        const ip = event.get("source.ip");
        if (ip === undefined || ip === null) return event;
        const key = `${base} ${String(ip)}`; // each MISP instance its own answers
        let found = await cache?.get(key) as Found | null | undefined;
        if (found === undefined) {
          found = await search(String(ip));
          await cache?.set(key, found);
        }
        if (found) {
          event.add("misp.attribute_uuid", found.attribute);
          event.add("misp.event_uuid", found.event);
        }
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
