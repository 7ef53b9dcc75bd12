// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shodan stream collector (IntelMQ's intelmq.bots.collectors.shodan.collector_stream): Shodan's
 * streaming API (banners of chosen countries, or of a network alert) read line by line, each line
 * a report, pushed through a ReportStream. A dropped connection is opened again; after more than
 * error_max_retries consecutive failures the round fails.
 */
import { z } from "zod";
import { ConfigurationError, ReportStream, collectorParams, defineBot, errorMessage, httpParams, p, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiStatusError, apiClient, joinUrl, withQuery } from "../lib/api-client.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  api_key: p.secret(z.string().default("<INSERT your API key>")).describe("Shodan API key"),
  countries: p.list().default([]).describe("Two-letter country codes whose banners are streamed (a list or comma-separated)"),
  alert: z.string().nullable().default(null).describe("Stream the banners of this network alert id instead of countries"),
  api_url: z.string().default("https://stream.shodan.io").describe("Ours: root of Shodan's streaming API"),
}).strict();

export type Params = z.infer<typeof params>;

/** Waits ms, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener("abort", done); resolve(); }
    signal.addEventListener("abort", done);
  });
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const countries = prm.countries.map((c) => c.trim()).filter((c) => c);
  if (countries.length && prm.alert) throw new ConfigurationError("shodan", "Both alert and country filters specified. Please use only one selector.");
  const http = apiClient(prm, ctx.log);
  const path = prm.alert ? `shodan/alert/${encodeURIComponent(prm.alert)}` : `shodan/countries/${countries.join(",")}`;
  const url = withQuery(joinUrl(prm.api_url, path), { key: prm.api_key });
  const shown = url.replace(/key=[^&]*/, "key=***");
  const stream = new ReportStream();

  /** Reads the stream into reports until `signal` aborts; throws once the failures in a row are too many. */
  async function pump(signal: AbortSignal): Promise<void> {
    let errors = 0;
    while (!signal.aborted) {
      try {
        ctx.log.info(`Connecting to ${shown}.`);
        const res = await http.open(url, { signal });
        let pending: Buffer = Buffer.alloc(0);
        for await (const chunk of res.body) {
          pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
          let nl: number;
          while ((nl = pending.indexOf(0x0a)) >= 0) {
            const line = pending.subarray(0, nl).toString("utf8").replace(/\r$/, "");
            pending = pending.subarray(nl + 1);
            if (!line.trim()) continue; // Shodan's keep-alive newlines
            const report = ctx.newReport();
            report.add("raw", line);
            stream.push(report);
            errors = 0;
          }
        }
        // a line cut by the end of the answer is incomplete JSON: it is left out, as requests' iter_lines fails on it
        throw new Error("the stream ended");
      } catch (caught) {
        if (signal.aborted) return;
        // the key is in the URL: errors name the URL without it
        const err = caught instanceof ApiStatusError ? new ApiStatusError(shown, caught.status, caught.excerpt) : caught;
        errors++;
        if (errors > ctx.runtime.error_max_retries) throw err;
        ctx.log.info(`Got exception ${errorMessage(err)}, retrying (consecutive error count ${errors} <= ${ctx.runtime.error_max_retries}).`);
        await pause(Math.min(1000 * errors, 30_000), signal);
      }
    }
  }

  return {
    streaming: true,
    collect(signal: AbortSignal): AsyncIterable<Report> {
      const stop = new AbortController();
      const both = AbortSignal.any([signal, stop.signal]);
      let fatal: { err: unknown } | null = null;
      const running = pump(both).catch((err: unknown) => { fatal = { err }; stop.abort(); });
      return (async function* () {
        try {
          yield* stream.drain(both);
        } finally {
          stop.abort();
          await running;
        }
        if (fatal) throw (fatal as { err: unknown }).err;
      })();
    },
    queued: (r) => stream.queued(r),
    failed: (r, err) => stream.failed(r, err),
    async shutdown() {
      stream.close(new Error("the collector stopped"));
      await http.close();
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "shodan",
  intelmq: "intelmq.bots.collectors.shodan.collector_stream",
  description: "Stream Shodan's banners (of countries or a network alert), each line a report",
  params,
  create,
});
