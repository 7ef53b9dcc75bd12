// SPDX-License-Identifier: AGPL-3.0-only
/**
 * do-portal expert: source.abuse_contact from the abuse contacts a do-portal instance knows for
 * source.ip (IntelMQ's experts.do_portal).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event, type HttpResponse } from "../../../shared/sdk/index.js";

export const DO_PORTAL_BUCKET = "do_portal";

export const params = z.object({
  ...httpParams,
  mode: z.enum(["append", "replace"]).default("append").describe("append: add the contacts to the existing ones; replace: overwrite them"),
  portal_url: z.string().describe("Base URL of the do-portal instance (the API is <portal_url>/api/1.0/ripe/contact?cidr=<ip>)"),
  portal_api_key: p.secret(z.string()).describe("The portal's API key (header API-Authorization)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Ours: seconds an answer is remembered (KV bucket \"do_portal\"); 0: no cache"),
}).strict();

/** The message of a 404 answer, if it is JSON with one. */
function notFoundMessage(res: HttpResponse): string {
  try {
    const m = (res.json() as { message?: unknown } | null)?.message;
    return typeof m === "string" ? m : "";
  } catch {
    return "";
  }
}

export default defineBot({
  kind: "expert",
  name: "do_portal",
  intelmq: "intelmq.bots.experts.do_portal.expert",
  description: "Sets source.abuse_contact from a do-portal instance's contacts of source.ip",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log, {
      "content-type": "application/json", "accept": "application/json", "api-authorization": prm.portal_api_key,
    });
    const cache = await lookupCache(ctx, DO_PORTAL_BUCKET, prm.cache_ttl);
    const tries = Math.max(1, prm.http_timeout_max_tries);
    async function contacts(ip: string): Promise<string[]> {
      const key = `${prm.portal_url} ${ip}`; // each portal its own answers
      const hit = await cache?.get(key);
      if (hit !== undefined) return hit as string[];
      const url = `${prm.portal_url}/api/1.0/ripe/contact?cidr=${ip}`;
      let res = await http.get(url);
      // the portal's frontend proxies the API: a 502 is a timeout of the backend, asked again
      for (let i = 1; res.status === 502 && i < tries; i++) res = await http.get(url);
      let found: string[];
      if (res.status === 404 && notFoundMessage(res).startsWith("('no such cidr'")) found = [];
      else if (res.status >= 400) throw new HttpStatusError(url, res.status, res.text().slice(0, 200));
      else {
        const abusecs = (res.json() as { abusecs?: unknown } | null)?.abusecs;
        if (!Array.isArray(abusecs)) throw new MalformedResponse(url, "no list abusecs");
        found = abusecs.map(String);
      }
      await cache?.set(key, found);
      return found;
    }
    return {
      async process(event: Event) {
        const ip = event.get("source.ip");
        if (ip === undefined || ip === null) return event;
        const result = await contacts(String(ip));
        if (prm.mode === "append") {
          const existing = String(event.get("source.abuse_contact") ?? "").split(",");
          const combined = [...existing, ...result].join(",").replace(/^,+|,+$/g, "");
          event.add("source.abuse_contact", combined, { overwrite: true });
        } else {
          event.add("source.abuse_contact", result.join(","), { overwrite: true });
        }
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
