// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Tuency expert: asks a tuency instance's IntelMQ lookup API for the contacts of source.ip /
 * source.fqdn and whether and how often to notify (IntelMQ's experts.tuency).
 */
import { z } from "zod";
import {
  defineBot, p, httpParams, httpClient, lookupCache, parseRelative, HttpStatusError, MalformedResponse, type Event,
} from "../../../shared/sdk/index.js";

export const TUENCY_BUCKET = "tuency";

export const params = z.object({
  ...httpParams,
  url: z.string().describe("Base URL of the tuency instance, with a trailing slash (the API is <url>intelmq/lookup)"),
  authentication_token: p.secret(z.string()).describe("Bearer token of tuency's IntelMQ API"),
  overwrite: p.bool().default(true).describe("Replace an existing source.abuse_contact"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(3600)
    .describe("Ours: seconds an answer is remembered (KV bucket \"tuency\"); 0: no cache"),
}).strict();

interface Destinations { destinations?: { contacts?: { email?: string }[] }[] }
interface Answer { ip?: Destinations; domain?: Destinations; suppress?: boolean; interval?: { unit: string; length: number } }

function destinations(url: string, d: Destinations | undefined): string[] {
  if (d === undefined || d === null) return [];
  if (!Array.isArray(d.destinations)) throw new MalformedResponse(url, "destinations is not a list");
  return d.destinations.flatMap((dest) => {
    if (!Array.isArray(dest?.contacts)) throw new MalformedResponse(url, "contacts is not a list");
    return dest.contacts.map((c) => String(c.email));
  });
}

export default defineBot({
  kind: "expert",
  name: "tuency",
  intelmq: "intelmq.bots.experts.tuency.expert",
  description: "Contacts, notification interval and suppression from a tuency instance",
  params,
  create: async (prm, ctx) => {
    const http = httpClient(prm, ctx.log, { authorization: `Bearer ${prm.authentication_token}` });
    const cache = await lookupCache(ctx, TUENCY_BUCKET, prm.cache_ttl);
    const api = `${prm.url}intelmq/lookup`;
    return {
      async process(event: Event) {
        if (!event.has("source.ip") && !event.has("source.fqdn")) return event;
        const query: Record<string, string> = {};
        for (const [param, field] of [["classification_taxonomy", "classification.taxonomy"], ["classification_type", "classification.type"],
          ["feed_provider", "feed.provider"], ["feed_name", "feed.name"]] as const) {
          if (!event.has(field)) {
            ctx.log.debug(`Skipping event because of missing field: '${field}'.`);
            return event;
          }
          query[param] = String(event.get(field));
        }
        query.feed_status = "production";
        if (event.has("source.ip")) query.ip = String(event.get("source.ip"));
        if (event.has("source.fqdn")) query.domain = String(event.get("source.fqdn"));

        const key = `${prm.url} ${JSON.stringify(query)}`;
        let answer = await cache?.get(key) as Answer | undefined;
        if (answer === undefined) {
          const res = await http.get(api, { query });
          if (res.status !== 200) throw new HttpStatusError(res.url, res.status, res.text().slice(0, 200));
          const body = res.json();
          if (body === null || typeof body !== "object" || Array.isArray(body)) throw new MalformedResponse(res.url, "not a JSON object");
          answer = body as Answer;
          await cache?.set(key, answer);
        }
        ctx.log.debug(`Received response ${JSON.stringify(answer)}.`);
        if (answer.suppress) {
          event.add("extra.notify", false, { overwrite: true });
        } else if (answer.interval === undefined) {
          return event; // tuency knows nothing about it
        } else if (answer.interval.unit === "immediate") {
          event.add("extra.ttl", 0, { overwrite: true });
        } else {
          event.add("extra.ttl", parseRelative(`${answer.interval.length} ${answer.interval.unit}`) * 60, { overwrite: true });
        }
        const contacts = [...destinations(api, answer.ip), ...destinations(api, answer.domain)];
        event.add("source.abuse_contact", contacts.join(","), { overwrite: prm.overwrite });
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
