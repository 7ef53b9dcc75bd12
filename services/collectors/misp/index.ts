// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP collector (IntelMQ's intelmq.bots.collectors.misp.collector): events carrying
 * misp_tag_to_process (events/restSearch of MISP's REST API) become reports of their JSON; each
 * event is then tagged misp_tag_processed and loses misp_tag_to_process, in commit() only: once the
 * broker stored its report.
 */
import { z } from "zod";
import { collectorParams, defineBot, httpParams, p, pyJsonDumps, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, apiClient, joinUrl } from "../lib/api-client.js";
import { Ledger } from "../lib/ledger.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  misp_url: z.string().default("<insert url of MISP server (with trailing '/')>").describe("URL of the MISP server"),
  misp_key: p.secret(z.string().default("<insert MISP Authkey>")).describe("API key of the MISP user"),
  misp_tag_to_process: z.string().default("<insert MISP tag for events to be processed>").describe("Tag of the events to collect (removed once collected)"),
  misp_tag_processed: z.string().nullable().default(null).describe("Tag added to the events collected (none: only the other tag is removed)"),
  misp_verify: p.bool().nullable().default(null).describe("Deprecated: replaces http_verify_cert when set"),
}).strict();

export type Params = z.infer<typeof params>;

interface MispEvent { uuid?: string; id?: string | number; [k: string]: unknown }

function create(prm: Params, ctx: BotContext): CollectorImpl {
  if (prm.misp_verify !== null) ctx.log.warn("The parameter 'misp_verify' is deprecated in favor of 'http_verify_cert'.");
  const http = apiClient({ ...prm, http_verify_cert: prm.misp_verify ?? prm.http_verify_cert }, ctx.log, {
    authorization: prm.misp_key, accept: "application/json", "content-type": "application/json",
  });
  const url = (path: string) => joinUrl(prm.misp_url, path);
  const ledger = new Ledger<string>();

  async function tag(path: string, uuid: string, tagName: string): Promise<void> {
    const res = await http.request(url(path), { method: "POST", body: { uuid, tag: tagName } });
    const body = res.json<{ errors?: unknown; saved?: boolean; success?: boolean } | null>();
    if (body && typeof body === "object" && "errors" in body && body.errors) {
      throw new ApiFormatError(`MISP refused ${path} of ${uuid} (${tagName}): ${JSON.stringify(body.errors)}`);
    }
  }

  return {
    async *collect(): AsyncIterable<Report> {
      const res = await http.request(url("events/restSearch"), { method: "POST", body: { returnFormat: "json", tags: prm.misp_tag_to_process } });
      let found = res.json<unknown>();
      if (found && typeof found === "object" && !Array.isArray(found) && "response" in found) found = (found as { response: unknown }).response;
      if (!Array.isArray(found)) throw new ApiFormatError(`MISP's search answer is not a list of events: ${res.text().slice(0, 200)}`);
      for (const e of found as { Event?: MispEvent }[]) {
        const event = e?.Event;
        if (!event || typeof event !== "object") throw new ApiFormatError(`MISP's search answer holds something else than an event: ${JSON.stringify(e).slice(0, 200)}`);
        const uuid = String(event.uuid ?? event.id);
        ledger.begin(uuid, uuid);
        if (ledger.stored(uuid)) {
          // stored by a round whose tagging failed: only the tagging is left to do
          ledger.part(uuid, uuid);
          ledger.end(uuid);
          continue;
        }
        const report = ctx.newReport();
        report.add("raw", pyJsonDumps(event, { sortKeys: true }));
        report.add("feed.url", prm.misp_url);
        ledger.part(uuid, uuid, report);
        ledger.end(uuid);
        yield report;
      }
    },
    queued: (report) => ledger.queued(report),
    async commit() {
      for (const [key, uuid] of ledger.ready()) {
        if (prm.misp_tag_processed !== null) await tag("tags/attachTagToObject", uuid, prm.misp_tag_processed);
        await tag("tags/removeTagFromObject", uuid, prm.misp_tag_to_process);
        ledger.done(key);
      }
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "misp",
  intelmq: "intelmq.bots.collectors.misp.collector",
  description: "Collect MISP events by tag through MISP's REST API, re-tagging them once their reports are stored",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
