// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shadowserver Reports API collector (IntelMQ's intelmq.bots.collectors.shadowserver.collector_reports_api):
 * lists the reports of the last days (reports/list, an HMAC-SHA256-signed JSON request), downloads
 * each new one and sends it as a report with extra.file_name. The names of the files sent are kept
 * in a KV bucket for redis_cache_ttl seconds, written in commit() only: once the broker stored
 * every report of the round.
 */
import { createHash, createHmac } from "node:crypto";
import { z } from "zod";
import { ConfigurationError, collectorParams, defineBot, httpParams, p, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, apiClient, joinUrl } from "../lib/api-client.js";
import { Ledger } from "../lib/ledger.js";

/** The bucket of the file names sent (IntelMQ: Redis database 12). */
export const BUCKET = "shadowserver-reports-api";

const strList = z.preprocess((v) => (typeof v === "string" ? (v.trim() ? v.split(",").map((s) => s.trim()) : []) : v), z.array(z.string()));

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  api_key: p.secret(z.string().nullable().default(null)).describe("Your Shadowserver API key"),
  secret: p.secret(z.string().nullable().default(null)).describe("Your Shadowserver API secret (signs the requests)"),
  reports: strList.nullable().default(null).describe("Mailing lists (report names) to fetch, a list or comma-separated; empty: all"),
  country: z.string().nullable().default(null).describe("Deprecated: a mailing list, added to reports"),
  types: strList.nullable().default(null).describe("Report types to fetch (e.g. scan_smb), a list or comma-separated; empty: all"),
  api_url: z.string().default("https://transform.shadowserver.org/api2/").describe("Ours: root of the Reports API (reports/list is below it)"),
  download_url: z.string().default("https://dl.shadowserver.org/").describe("Ours: where reports are downloaded from (the report id is appended)"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(864000).describe("Seconds a file name sent is remembered (not fetched again)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Unused: the names are kept in a KV bucket of the broker, not Redis"),
  redis_cache_port: p.int().default(6379).describe("Unused (see redis_cache_host)"),
  redis_cache_db: p.int().default(12).describe("Unused (see redis_cache_host)"),
  redis_cache_password: p.secret(z.string().nullable().default(null)).describe("Unused (see redis_cache_host)"),
}).strict();

export type Params = z.infer<typeof params>;

interface ListEntry { id: string; file: string; type?: string; report?: string; timestamp?: string }

/** A KV key for a file name: KV keys allow only [-/_=.a-zA-Z0-9]. */
export function cacheKey(file: string): string {
  return /^[-_=.a-zA-Z0-9]{1,200}$/.test(file) && !file.startsWith(".") && !file.endsWith(".")
    ? `f.${file}` : `h.${createHash("sha256").update(file).digest("hex")}`;
}

/** The JSON text of reports/list, spaced as IntelMQ writes it (the HMAC is of these bytes). */
export function listBody(apiKey: string, reports: readonly string[], today: Date): string {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const begin = new Date(today.getTime() - 2 * 86400_000);
  let data = `{ "apikey": ${JSON.stringify(apiKey)} ,"date": "${day(begin)}:${day(today)}" `;
  if (reports.length) data += `,"reports": [${reports.map((r) => JSON.stringify(r)).join(", ")}]`;
  return data + "}";
}

async function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  if (!prm.api_key) throw new ConfigurationError("shadowserver", "No api_key provided.");
  if (!prm.secret) throw new ConfigurationError("shadowserver", "No secret provided.");
  const apiKey = prm.api_key;
  const secret = prm.secret;
  const reportList = [...(prm.reports ?? [])];
  if (prm.country && !reportList.includes(prm.country)) {
    ctx.log.warn("Deprecated parameter 'country' found. Please use 'reports' instead.");
    reportList.push(prm.country);
  }
  const types = prm.types?.length ? new Set(prm.types) : null;
  const http = apiClient(prm, ctx.log);
  const cache = await ctx.cache(BUCKET, prm.redis_cache_ttl);
  const ledger = new Ledger();

  async function list(): Promise<ListEntry[]> {
    const data = listBody(apiKey, reportList, new Date());
    ctx.log.debug(`Downloading report list with data: ${data.replace(apiKey, "***")}.`);
    const hmac = createHmac("sha256", secret).update(data, "utf8").digest("hex");
    const res = await http.request(joinUrl(prm.api_url, "reports/list"), { method: "POST", body: data, headers: { HMAC2: hmac } });
    const answer = res.json<unknown>();
    if (answer && typeof answer === "object" && !Array.isArray(answer)) {
      if ("error" in answer) throw new ApiFormatError(`Shadowserver refused the report list: ${JSON.stringify((answer as { error: unknown }).error)}`);
      return []; // IntelMQ iterates an object's keys: nothing to fetch
    }
    if (!Array.isArray(answer)) throw new ApiFormatError(`The report list is not a list: ${res.text().slice(0, 200)}`);
    ctx.log.debug(`Downloaded report list, ${answer.length} entries.`);
    const entries = answer.filter((e): e is ListEntry => !!e && typeof e === "object" && typeof e.id === "string" && typeof e.file === "string");
    return types ? entries.filter((e) => types.has(String(e.type))) : entries;
  }

  return {
    async *collect(): AsyncIterable<Report> {
      const entries = await list();
      ctx.log.debug(`Reports list contains ${entries.length} entries after filtering.`);
      let downloaded = 0;
      for (const item of entries) {
        const key = cacheKey(item.file);
        if (ledger.stored(key) || (await cache.get(key)) !== null) {
          ctx.log.debug(`Processed file ${JSON.stringify(item.file)} already.`);
          continue;
        }
        ledger.begin(key, undefined);
        const res = await http.request(joinUrl(prm.download_url, encodeURIComponent(item.id)));
        const report = ctx.newReport();
        report.add("extra.file_name", item.file);
        report.add("raw", res.text());
        ledger.part(key, key, report);
        ledger.end(key);
        ctx.log.debug(`Sending report ${JSON.stringify(item.file)} (${(res.body.length / 1024).toFixed(1)} KiB).`);
        downloaded++;
        yield report;
      }
      ctx.log.info(`Downloaded ${downloaded} of ${entries.length} available reports.`);
    },
    queued: (report) => ledger.queued(report),
    async commit() {
      for (const [key] of ledger.ready()) {
        await cache.put(key, "1");
        ledger.done(key);
      }
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "shadowserver",
  intelmq: "intelmq.bots.collectors.shadowserver.collector_reports_api",
  description: "Fetch new reports from the Shadowserver Reports API (HMAC-signed), remembering those sent in a KV bucket",
  params,
  runtimeDefaults: { rate_limit: 86400 },
  create,
});
