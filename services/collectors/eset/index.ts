// SPDX-License-Identifier: AGPL-3.0-only
/**
 * ESET collector (IntelMQ's intelmq.bots.collectors.eset.collector): polls a collection of ESET's
 * TAXII 1.1 service (ETI) for the last `time_delta` seconds; each content block is a report.
 */
import { z } from "zod";
import { collectorParams, defineBot, httpParams, p, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { apiClient } from "../lib/api-client.js";
import { TaxiiClient } from "./taxii11.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  collection: z.string().default("<collection>").describe("The TAXII collection (ESET feed), e.g. ei.urls.json"),
  endpoint: z.string().default("eti.eset.com").describe("Host of the TAXII service; discovery at https://<endpoint>/taxiiservice/discovery"),
  username: z.string().default("<username>").describe("User of the TAXII service (basic auth)"),
  password: p.secret(z.string().default("<password>")).describe("Password of the TAXII service"),
  time_delta: p.int().pipe(z.number().int().positive()).default(3600).describe("Seconds back from now that are polled"),
  discovery_url: z.string().nullable().default(null).describe("Ours: the discovery service's URL instead of https://<endpoint>/taxiiservice/discovery"),
}).strict();

export type Params = z.infer<typeof params>;

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const http = apiClient({ ...prm, http_username: prm.username, http_password: prm.password }, ctx.log);
  const feedUrl = `https://${prm.endpoint}/taxiiservice/discovery`;
  const discovery = prm.discovery_url ?? feedUrl;
  const taxii = new TaxiiClient(http, discovery.startsWith("https:"));
  return {
    async collect(): Promise<Report[]> {
      const end = new Date();
      const start = new Date(end.getTime() - prm.time_delta * 1000);
      ctx.log.debug(`Fetching data back to ${start.toISOString().slice(0, 19)}+00:00.`);
      const pollUrl = await taxii.pollService(discovery);
      ctx.log.debug("Authentication succeeded. Polling data from ESET TAXII endpoint.");
      // every part of the result is read before a report is sent: a failure sends nothing
      const reports: Report[] = [];
      for (const content of await taxii.poll(pollUrl, prm.collection, start, end)) {
        if (!content) continue;
        const report = ctx.newReport();
        report.add("feed.url", feedUrl);
        report.add("extra.eset_feed", prm.collection);
        report.add("raw", content);
        reports.push(report);
      }
      return reports;
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "eset",
  intelmq: "intelmq.bots.collectors.eset.collector",
  description: "Poll a collection of ESET's TAXII 1.1 service for the last time_delta seconds",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
