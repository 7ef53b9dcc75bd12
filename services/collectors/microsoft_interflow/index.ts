// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Microsoft Interflow collector (IntelMQ's intelmq.bots.collectors.microsoft.collector_interflow):
 * lists the files shared through Interflow's file API, downloads each new one (by name, time and
 * file_match) as a report. File names sent are kept for redis_cache_ttl seconds in a KV bucket,
 * written in commit() only, once the broker stored the reports.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import { ConfigurationError, collectorParams, defineBot, httpParams, p, pyRegex, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, apiClient, joinUrl } from "../lib/api-client.js";
import { Ledger } from "../lib/ledger.js";

export const BUCKET = "microsoft-interflow";
const MINUTES: Record<string, number> = { second: 1 / 60, minute: 1, hour: 60, day: 1440, week: 10080, month: 43200, year: 525600 };

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  http_timeout_sec: httpParams.http_timeout_sec.default(300),
  api_key: p.secret(z.string().default("")).describe("Interflow subscription key (Ocp-Apim-Subscription-Key header)"),
  file_match: z.string().nullable().default(null).describe("Only files whose name matches this regular expression (from its start)"),
  not_older_than: z.string().nullable().default("2 days").describe("Only files modified after this: relative (\"2 days\") or a date"),
  api_url: z.string().default("https://interflow.azure-api.net/file/api/file/").describe("Ours: root of Interflow's file API (listsharedfiles, download)"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(604800).describe("Seconds a file name sent is remembered (not fetched again)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Unused: the names are kept in a KV bucket of the broker, not Redis"),
  redis_cache_port: p.int().default(6379).describe("Unused (see redis_cache_host)"),
  redis_cache_db: z.union([z.string(), z.number()]).default("5").describe("Unused (see redis_cache_host)"),
  redis_cache_password: p.secret(z.string().nullable().default(null)).describe("Unused (see redis_cache_host)"),
}).strict();

export type Params = z.infer<typeof params>;

interface SharedFile { Name: string; LastModified?: string }

const cacheKey = (name: string) => (/^[-_=a-zA-Z0-9](?:[-_=.a-zA-Z0-9]{0,198}[-_=a-zA-Z0-9])?$/.test(name) ? `f.${name}` : `h.${createHash("sha256").update(name).digest("hex")}`);

/** The oldest modification time accepted, as a function of now (null: no filter). */
function timeFilter(prm: Params): (() => number) | null {
  if (!prm.not_older_than) return null;
  const rel = /^(\d+)\s+(\w+[^s])s?$/u.exec(prm.not_older_than.trim());
  const ttlMs = prm.redis_cache_ttl * 1000;
  if (rel && rel[2]! in MINUTES) {
    const ms = Number(rel[1]) * MINUTES[rel[2]!]! * 60_000;
    if (ttlMs < ms) throw new ConfigurationError("microsoft_interflow", "The cache's TTL must be higher than 'not_older_than', otherwise the bot is processing the same data over and over again.");
    return () => Date.now() - ms;
  }
  const abs = Date.parse(prm.not_older_than);
  if (Number.isNaN(abs)) throw new ConfigurationError("microsoft_interflow", `not_older_than ${JSON.stringify(prm.not_older_than)} is neither a relative time nor a date`);
  return () => {
    if (Date.now() - ttlMs > abs) throw new ConfigurationError("microsoft_interflow", "The cache's TTL must be higher than 'not_older_than', otherwise the bot is processing the same data over and over again.");
    return abs;
  };
}

async function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  const oldest = timeFilter(prm);
  const match = prm.file_match ? pyRegex(prm.file_match) : null;
  const startsWith = match ? new RegExp(match.source, match.flags.replace("g", "") + "y") : null;
  const http = apiClient(prm, ctx.log, { "ocp-apim-subscription-key": prm.api_key });
  const cache = await ctx.cache(BUCKET, prm.redis_cache_ttl);
  const ledger = new Ledger();

  return {
    async *collect(): AsyncIterable<Report> {
      const since = oldest ? oldest() : null;
      ctx.log.debug("Downloading file list.");
      const files = (await http.request(joinUrl(prm.api_url, "listsharedfiles"))).json<SharedFile[]>();
      if (!Array.isArray(files)) throw new ApiFormatError("Interflow's file list is not a list.");
      ctx.log.debug(`Downloaded file list, ${files.length} entries.`);
      for (const file of files) {
        const key = cacheKey(file.Name);
        if (ledger.stored(key) || (await cache.get(key)) !== null) {
          ctx.log.debug(`Processed file ${file.Name} already.`);
          continue;
        }
        if (startsWith) {
          startsWith.lastIndex = 0;
          if (!startsWith.test(file.Name)) { ctx.log.debug(`File ${JSON.stringify(file.Name)} does not match filename filter.`); continue; }
        }
        const modified = Date.parse(file.LastModified ?? "");
        if (since !== null && !(modified >= since)) {
          ctx.log.debug(`File ${JSON.stringify(file.Name)} does not match the time filter.`);
          continue;
        }
        ctx.log.debug(`Processing file ${JSON.stringify(file.Name)}.`);
        // the name goes into the URL unencoded, as IntelMQ sends it
        const url = joinUrl(prm.api_url, `download?fileName=${file.Name}`);
        const body = (await http.request(url)).body;
        const report = ctx.newReport();
        report.add("feed.url", url);
        report.add("raw", (url.endsWith(".gz") ? gunzipSync(body) : body).toString("utf8"));
        ledger.begin(key, undefined);
        ledger.part(key, key, report);
        ledger.end(key);
        yield report;
      }
    },
    queued: (r) => ledger.queued(r),
    async commit() {
      for (const [key] of ledger.ready()) {
        await cache.put(key, "True");
        ledger.done(key);
      }
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "microsoft_interflow",
  intelmq: "intelmq.bots.collectors.microsoft.collector_interflow",
  description: "Fetch new files shared through Microsoft Interflow's file API, remembering those sent in a KV bucket",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
