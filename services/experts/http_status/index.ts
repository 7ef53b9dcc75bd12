// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP status expert: requests the URL in `field` and sets `status` to online or offline by the
 * HTTP status (IntelMQ's experts.http.expert_status).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, errorMessage, type Event } from "../../../shared/sdk/index.js";

export const HTTP_STATUS_BUCKET = "http_status";

export const params = z.object({
  ...httpParams,
  field: z.string().default("source.url").describe("The field holding the URL to request"),
  success_status_codes: z.preprocess((v) => (typeof v === "string" ? v.split(",").filter((x) => x.trim() !== "") : v), z.array(p.int())).default([])
    .describe("Status codes that mean online; empty: any status below 400"),
  overwrite: p.bool().default(true).describe("Replace an existing status (and extra.reason)"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(300)
    .describe("Ours: seconds the result for a URL is remembered (KV bucket \"http_status\"); 0: every event is requested"),
}).strict();

/** What a request found: the final status and its reason phrase, or the error (no answer). */
interface Seen { status?: number; reason: string }

export default defineBot({
  kind: "expert",
  name: "http_status",
  intelmq: "intelmq.bots.experts.http.expert_status",
  description: "Sets status to online/offline by the HTTP status of the URL in a field",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log);
    const cache = await lookupCache(ctx, HTTP_STATUS_BUCKET, prm.cache_ttl);
    const codes = new Set(prm.success_status_codes);
    async function fetchStatus(url: string): Promise<Seen> {
      try {
        const res = await http.get(url);
        return { status: res.status, reason: res.reason };
      } catch (err) {
        // an unreachable URL is the answer "offline" (IntelMQ), not a failure of the message
        return { reason: errorMessage(err) };
      }
    }
    return {
      async process(event: Event) {
        const url = event.get(prm.field);
        if (url === undefined || url === null) {
          ctx.log.debug(`Field ${prm.field} was not part of the message.`);
          return event;
        }
        // the status is cached, not the verdict: bots with other success_status_codes share it
        let seen = await cache?.get(String(url)) as Seen | undefined;
        if (seen === undefined) {
          seen = await fetchStatus(String(url));
          await cache?.set(String(url), seen);
        }
        const s = seen.status;
        const online = s !== undefined && ((codes.size > 0 && codes.has(s)) || s < 400);
        event.add("status", online ? "online" : "offline", { overwrite: prm.overwrite });
        if (!online) event.add("extra.reason", seen.reason, { overwrite: prm.overwrite });
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
