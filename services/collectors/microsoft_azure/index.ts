// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Microsoft Azure collector (IntelMQ's intelmq.bots.collectors.microsoft.collector_azure): every
 * blob of a storage container not sent before is downloaded, gunzipped and sent as a report. The
 * names sent are kept for redis_cache_ttl seconds in a KV bucket, written in commit() only, once
 * the broker stored the reports. Blobs are not deleted (IntelMQ does not delete them either).
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import { ConfigurationError, collectorParams, defineBot, httpParams, p, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { apiClient } from "../lib/api-client.js";
import { Ledger } from "../lib/ledger.js";
import { downloadBlob, listBlobs, parseConnectionString } from "./blob.js";

export const BUCKET = "microsoft-azure";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  connection_string: p.secret(z.string().default("<insert your connection string here>")).describe("Azure Storage connection string (account key or SAS; BlobEndpoint may point elsewhere)"),
  container_name: z.string().default("<insert the container name>").describe("The container whose blobs are collected"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(864000).describe("Seconds a blob name sent is remembered (not fetched again)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Unused: the names are kept in a KV bucket of the broker, not Redis"),
  redis_cache_port: p.int().default(6379).describe("Unused (see redis_cache_host)"),
  redis_cache_db: z.union([z.string(), z.number()]).default("5").describe("Unused (see redis_cache_host)"),
  redis_cache_password: p.secret(z.string().nullable().default(null)).describe("Unused (see redis_cache_host)"),
}).strict();

export type Params = z.infer<typeof params>;

async function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  let account;
  try {
    account = parseConnectionString(prm.connection_string);
  } catch (err) {
    throw new ConfigurationError("connection_string", (err as Error).message, { cause: err });
  }
  const acc = account;
  const http = apiClient(prm, ctx.log);
  const cache = await ctx.cache(BUCKET, prm.redis_cache_ttl);
  const ledger = new Ledger();
  // the container is part of the key: two collectors of different containers share the bucket
  const keyOf = (name: string) => `h.${createHash("sha256").update(`${prm.container_name}/${name}`).digest("hex")}`;

  return {
    async *collect(): AsyncIterable<Report> {
      for (const name of await listBlobs(http, acc, prm.container_name)) {
        const key = keyOf(name);
        if (ledger.stored(key) || (await cache.get(key)) !== null) {
          ctx.log.debug(`Processed file ${JSON.stringify(name)} already.`);
          continue;
        }
        ctx.log.debug(`Processing blob ${JSON.stringify(name)}.`);
        const data = gunzipSync(await downloadBlob(http, acc, prm.container_name, name));
        const report = ctx.newReport();
        report.add("raw", data.toString("utf8"));
        ledger.begin(key, undefined);
        ledger.part(key, key, report);
        ledger.end(key);
        yield report;
      }
    },
    queued: (r) => ledger.queued(r),
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
  name: "microsoft_azure",
  intelmq: "intelmq.bots.collectors.microsoft.collector_azure",
  description: "Fetch new gzipped blobs of an Azure Storage container, remembering those sent in a KV bucket",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
