// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Splunk saved search expert: runs a saved search with parameters from the event through
 * Splunk's REST API and copies fields of the result into the event
 * (IntelMQ's experts.splunk_saved_search).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import {
  ConfigurationError, defineBot, p, httpParams, httpClient, lookupCache, HttpStatusError, MalformedResponse, type Event,
} from "../../../shared/sdk/index.js";

export const SPLUNK_BUCKET = "splunk_saved_search";
const json = <T extends z.ZodType>(s: T) => z.preprocess((v) => (typeof v === "string" && /^\s*[[{]/.test(v) ? JSON.parse(v) : v), s);

export const params = z.object({
  ...httpParams,
  url: z.string().nullable().default(null).describe("Base URL of Splunk's REST API, e.g. https://splunk.example.com:8089"),
  auth_token: p.secret(z.string()).nullable().default(null).describe("Splunk authentication token (bearer)"),
  saved_search: z.string().nullable().default(null).describe("Name of the saved search to run"),
  search_parameters: json(z.record(z.string(), z.string())).default({})
    .describe("Event field -> saved search parameter"),
  result_fields: json(z.record(z.string(), z.string())).default({})
    .describe("Search result field -> event field"),
  not_found: json(p.list()).default(["warn", "send"])
    .describe("Without results: any of warn (log a warning), send (the event unchanged), drop"),
  multiple_result_handling: json(p.list()).default(["warn", "use_first", "send"])
    .describe("With several results: limit (ask for one only) alone, or any of warn, use_first / ignore, send / drop"),
  overwrite: p.bool().nullable().default(null)
    .describe("Result fields replace existing values (true), keep them (false) or fail the event (unset)"),
  retry_interval: p.number().pipe(z.number().min(0)).default(5).describe("Seconds between two looks for the search's results"),
  cache_ttl: p.int().pipe(z.number().int().min(0)).default(300)
    .describe("Ours: seconds the results of a search are remembered (KV bucket \"splunk_saved_search\"); 0: no cache"),
}).strict();

/** A value inside SPL double quotes: a quote or backslash in it cannot end the string. */
const quote = (s: string): string => s.replace(/[\\"]/g, (c) => `\\${c}`);

export default defineBot({
  kind: "expert",
  name: "splunk_saved_search",
  intelmq: "intelmq.bots.experts.splunk_saved_search.expert",
  description: "Enriches events with the results of a Splunk saved search",
  params,
  create: async (prm, ctx) => {
    if (prm.url === null) throw new ConfigurationError("Connection", "No Splunk API URL specified");
    if (prm.auth_token === null) throw new ConfigurationError("Connection", "No Splunk API authorization token specified");
    if (prm.saved_search === null) throw new ConfigurationError("Search", "No Splunk saved search specified");
    const nf = new Set(prm.not_found), multi = new Set(prm.multiple_result_handling);
    if (nf.has("send") && nf.has("drop")) throw new ConfigurationError("Processing", "Cannot both drop and send messages without search results");
    if (multi.has("limit") && multi.size !== 1) throw new ConfigurationError("Processing", "Search results limited to one, no processing of multiple results possible");
    if (multi.has("send") && multi.has("drop")) throw new ConfigurationError("Processing", "Cannot both drop and send messages with multiple search results");
    if (multi.has("ignore") && multi.has("use_first")) throw new ConfigurationError("Processing", "Cannot both ignore and use multiple search results");
    const base = prm.url.replace(/\/+$/, "");
    const http = httpClient(prm, ctx.log, { authorization: `Bearer ${prm.auth_token}` });
    const cache = await lookupCache(ctx, SPLUNK_BUCKET, prm.cache_ttl);
    const savedSearch = prm.saved_search;

    async function run(query: string): Promise<Record<string, unknown>[]> {
      const start = await http.request(`${base}/services/search/jobs`, { method: "POST", body: { output_mode: "json", search: query } });
      if (start.status < 200 || start.status > 299) {
        ctx.log.error(`Error starting search job: ${start.text().slice(0, 500)}`);
        throw new HttpStatusError(start.url, start.status);
      }
      const sid = (start.json() as { sid?: unknown } | null)?.sid;
      if (typeof sid !== "string" && typeof sid !== "number") throw new MalformedResponse(start.url, "no sid");
      ctx.log.debug(`Started search, job id: ${sid}`);
      // even a simple search is never ready at once: a short first wait saves a full retry_interval
      await sleep(Math.min(1, prm.retry_interval) * 1000);
      const resultsUrl = `${base}/services/search/jobs/${encodeURIComponent(String(sid))}/results/`;
      for (;;) {
        const res = await http.get(resultsUrl, { query: { output_mode: "json" } });
        if (res.status === 200) {
          const results = (res.json() as { results?: unknown } | null)?.results;
          if (!Array.isArray(results)) throw new MalformedResponse(res.url, "no results list");
          return results as Record<string, unknown>[];
        }
        if (res.status !== 204) {
          ctx.log.error(`Error getting search results: ${res.text().slice(0, 500)}`);
          throw new HttpStatusError(res.url, res.status);
        }
        ctx.log.debug(`Results not ready, sleeping for ${prm.retry_interval} seconds before retrying`);
        await sleep(prm.retry_interval * 1000);
      }
    }

    function update(event: Event, hit: Record<string, unknown>): void {
      for (const [result, field] of Object.entries(prm.result_fields)) {
        if (!(result in hit)) throw new MalformedResponse(base, `the search result has no field ${JSON.stringify(result)}`);
        event.add(field, hit[result], { overwrite: prm.overwrite });
      }
    }

    return {
      async process(event: Event) {
        for (const field of Object.keys(prm.search_parameters)) {
          if (!event.has(field)) {
            ctx.log.warn(`Event does not contain search parameter ${field}`);
            return event;
          }
        }
        let query = `|savedsearch "${savedSearch}"`;
        for (const [field, parameter] of Object.entries(prm.search_parameters)) query += ` "${parameter}"="${quote(String(event.get(field)))}"`;
        if (multi.has("limit")) query += " | head 1";
        ctx.log.debug(`Query: ${query}`);
        const key = `${base} ${query}`;
        let hits = await cache?.get(key) as Record<string, unknown>[] | undefined;
        if (hits === undefined) {
          hits = await run(query);
          await cache?.set(key, hits);
        }
        if (hits.length === 0) {
          if (nf.has("warn")) ctx.log.warn("No results returned");
          return nf.has("drop") ? null : event;
        }
        if (hits.length > 1) {
          if (multi.has("warn")) ctx.log.warn(`Multiple results returned: ${JSON.stringify(hits).slice(0, 1000)}`);
          if (multi.has("use_first")) update(event, hits[0]!);
          return multi.has("drop") ? null : event;
        }
        update(event, hits[0]!);
        return event;
      },
      async shutdown() { await http.close(); },
    };
  },
});
