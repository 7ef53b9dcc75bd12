// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Lookyloo expert: submits source.url to a Lookyloo instance for capture (screenshots, redirect
 * tree) and sets screenshot_url to the capture's page (IntelMQ's experts.lookyloo).
 */
import { z } from "zod";
import { defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event } from "../../../shared/sdk/index.js";

export const LOOKYLOO_BUCKET = "lookyloo";

export const params = z.object({
  ...httpParams,
  instance_url: z.string().default("http://localhost:5100/").describe("The Lookyloo instance"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(3600)
    .describe("Ours: seconds a URL's capture is reused instead of submitting it again (KV bucket \"lookyloo\"); 0: every event submits"),
}).strict();

const CAPTURE_ID = /^[A-Za-z0-9-]{8,}$/;

export default defineBot({
  kind: "expert",
  name: "lookyloo",
  intelmq: "intelmq.bots.experts.lookyloo.expert",
  description: "Submits source.url to Lookyloo and sets screenshot_url to the capture",
  params,
  create: async (prm, ctx) => {
    const root = prm.instance_url.endsWith("/") ? prm.instance_url : `${prm.instance_url}/`;
    const http = httpClient(prm, ctx.log, { "content-type": "application/json" });
    const cache = await lookupCache(ctx, LOOKYLOO_BUCKET, prm.cache_ttl);
    async function submit(url: string): Promise<string> {
      const res = await http.request(`${root}submit`, { method: "POST", body: JSON.stringify({ url, user_agent: prm.http_user_agent }) });
      if (res.status !== 200) throw new HttpStatusError(res.url, res.status, res.text().slice(0, 200));
      // the capture's UUID: a JSON string (current Lookyloo) or plain text (older ones)
      let id: unknown = res.text().trim();
      try { id = JSON.parse(id as string); } catch { /* plain text */ }
      if (typeof id !== "string" || !CAPTURE_ID.test(id)) throw new MalformedResponse(res.url, `no capture UUID (${JSON.stringify(res.text().slice(0, 80))})`);
      return `${root}tree/${id}`;
    }
    return {
      async process(event: Event) {
        const url = event.get("source.url");
        if (typeof url !== "string") return event;
        const key = `${root} ${url}`; // each instance its own captures
        let screenshot = await cache?.get(key) as string | undefined;
        if (screenshot === undefined) {
          screenshot = await submit(url);
          await cache?.set(key, screenshot);
        }
        event.add("screenshot_url", screenshot);
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
