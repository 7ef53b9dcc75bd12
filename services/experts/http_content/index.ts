// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP content expert: requests the URL in `field` and sets `status` to online when the answer
 * contains `needle`, else offline (IntelMQ's experts.http.expert_content).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, errorMessage, type Event } from "../../../shared/sdk/index.js";

export const HTTP_CONTENT_BUCKET = "http_content";

export const params = z.object({
  ...httpParams,
  field: z.string().default("source.url").describe("The field holding the URL to request"),
  needle: z.string().nullable().default(null).describe("The text the answer must contain for online; unset: events pass unchanged"),
  overwrite: p.bool().default(true).describe("Replace an existing status (and extra.reason)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(300)
    .describe("Ours: seconds the result for a URL is remembered (KV bucket \"http_content\"); 0: every event is requested"),
}).strict();

interface Verdict { online: boolean; reason?: string }

export default defineBot({
  kind: "expert",
  name: "http_content",
  intelmq: "intelmq.bots.experts.http.expert_content",
  description: "Sets status to online/offline by whether the content at the URL in a field contains a text",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log);
    const cache = await lookupCache(ctx, HTTP_CONTENT_BUCKET, prm.cache_ttl);
    async function check(url: string, needle: string): Promise<Verdict> {
      try {
        const res = await http.get(url);
        if (!res.ok) return { online: false, reason: res.reason };
        if (res.text().includes(needle)) return { online: true };
        return { online: false, reason: `Text ${needle} not found in response from ${url}` };
      } catch (err) {
        // an unreachable URL is the answer "offline" (IntelMQ), not a failure of the message
        return { online: false, reason: errorMessage(err) };
      }
    }
    return {
      async process(event: Event) {
        const url = event.get(prm.field);
        if (url === undefined || url === null || prm.needle === null) {
          ctx.log.debug(`Field ${prm.field} was not part of the message or search string is not set.`);
          return event;
        }
        const key = `${String(url)} ${prm.needle}`;
        let v = await cache?.get(key) as Verdict | undefined;
        if (v === undefined) {
          v = await check(String(url), prm.needle);
          await cache?.set(key, v);
        }
        event.add("status", v.online ? "online" : "offline", { overwrite: prm.overwrite });
        if (!v.online) event.add("extra.reason", v.reason, { overwrite: prm.overwrite });
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
