// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Blueliv Crimeserver collector (IntelMQ's intelmq.bots.collectors.blueliv.collector_crimeserver):
 * the online crime servers of Blueliv's API (v1/crimeserver/online), as one report of their JSON list.
 */
import { z } from "zod";
import { collectorParams, defineBot, httpParams, p, pyJsonDumps, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, apiClient, joinUrl } from "../lib/api-client.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  api_key: p.secret(z.string().default("<insert your api key>")).describe("Blueliv API token"),
  api_url: z.string().default("https://freeapi.blueliv.com").describe("Blueliv's API root"),
}).strict();

export type Params = z.infer<typeof params>;

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const headers: Record<string, string> = prm.api_key ? { authorization: `bearer ${prm.api_key}` } : {};
  const http = apiClient(prm, ctx.log, headers);
  return {
    async collect(): Promise<Report[]> {
      ctx.log.debug("Downloading report through API.");
      const res = await http.request(joinUrl(prm.api_url, "v1/crimeserver/online"), { headers: { accept: "application/json" } });
      const body = res.json<{ crimeServers?: unknown }>();
      if (!body || !Array.isArray(body.crimeServers)) throw new ApiFormatError(`Blueliv answered no crimeServers list: ${res.text().slice(0, 200)}`);
      ctx.log.info("Report downloaded.");
      const report = ctx.newReport();
      report.add("raw", pyJsonDumps(body.crimeServers));
      return [report];
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "blueliv",
  intelmq: "intelmq.bots.collectors.blueliv.collector_crimeserver",
  description: "Collect Blueliv's online crime servers through its API, as one report",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
