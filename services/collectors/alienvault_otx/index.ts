// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AlienVault OTX collector (IntelMQ's intelmq.bots.collectors.alienvault_otx.collector): the pulses
 * the account subscribes to (all, or those modified in the last `interval` hours), every page of
 * OTX's API read, sent as one report of their JSON list.
 */
import { z } from "zod";
import { collectorParams, defineBot, httpParams, p, pyJsonDumps, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, apiClient, joinUrl } from "../lib/api-client.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  api_key: p.secret(z.string().default("<insert your api key>")).describe("OTX API key (X-OTX-API-KEY header)"),
  modified_pulses_only: p.bool().default(false).describe("Only pulses modified in the last `interval` hours"),
  interval: p.int().pipe(z.number().int().positive()).default(24).describe("Hours back with modified_pulses_only"),
  api_url: z.string().default("https://otx.alienvault.com").describe("Ours: the OTX server"),
}).strict();

export type Params = z.infer<typeof params>;

/** Local naive ISO time as Python's datetime.isoformat() writes it. */
function naiveIso(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.getMilliseconds() ? `${base}.${pad(d.getMilliseconds() * 1000, 6)}` : base;
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const http = apiClient(prm, ctx.log, { "x-otx-api-key": prm.api_key, "user-agent": "OTX Python SDK/1.5.12" });
  return {
    async collect(): Promise<Report[]> {
      ctx.log.info("Downloading report through API.");
      const query: Record<string, string | number> = { limit: prm.modified_pulses_only ? 9999 : 50 };
      if (prm.modified_pulses_only) {
        ctx.log.info("Fetching only modified pulses.");
        query.modified_since = naiveIso(new Date(Date.now() - prm.interval * 3600_000));
      } else {
        ctx.log.info("Fetching all pulses.");
      }
      const pulses: unknown[] = [];
      let next: string | null = joinUrl(prm.api_url, "api/v1/pulses/subscribed");
      let q: typeof query | undefined = query;
      // every page first: a page failing sends nothing
      while (next) {
        const res = await http.request(next, { query: q });
        const page: { results?: unknown[]; next?: string | null } | null = res.json();
        if (!page || !Array.isArray(page.results)) throw new ApiFormatError(`OTX answered no results list from ${next}`);
        pulses.push(...page.results);
        next = page.next ?? null;
        q = undefined; // the next link carries the query
      }
      ctx.log.info("Report downloaded.");
      const report = ctx.newReport();
      report.add("raw", pyJsonDumps(pulses));
      return [report];
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "alienvault_otx",
  intelmq: "intelmq.bots.collectors.alienvault_otx.collector",
  description: "Collect the subscribed pulses of AlienVault OTX through its API, as one report",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
