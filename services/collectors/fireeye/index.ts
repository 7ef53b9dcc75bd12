// SPDX-License-Identifier: AGPL-3.0-only
/**
 * FireEye MAS collector (IntelMQ's intelmq.bots.collectors.fireeye.collector_mas): logs in to a
 * FireEye appliance's web services API, lists the alerts of `request_duration`, and sends the
 * OpenIOC XML of every malware-object alert (EMAIL_MPS, MAS) that names an MD5 file hash.
 */
import { z } from "zod";
import { ConfigurationError, collectorParams, defineBot, httpParams, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { ApiFormatError, ApiStatusError, apiClient, joinUrl } from "../lib/api-client.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  host: z.string().nullable().default(null).describe("The appliance's host name; its API is https://<host>/wsapis/v2.0.0/"),
  request_duration: z.string().nullable().default(null).describe("Alerts of this period, as the API takes it (e.g. 24_hours, 48_hours)"),
  api_url: z.string().nullable().default(null).describe("Ours: the API root instead of https://<host>/wsapis/v2.0.0/"),
}).strict();

export type Params = z.infer<typeof params>;

interface Alert { product?: string; name?: string; uuid?: string }

/** Whether an OpenIOC document has an indicator item searching FileItem/Md5sum (what IntelMQ looks for). */
export function hasMd5Item(xml: string): boolean {
  for (const m of xml.matchAll(/<IndicatorItem\b[\s\S]*?<\/IndicatorItem>/g)) {
    if (/<Context\b[^>]*\bsearch\s*=\s*["']FileItem\/Md5sum["']/.test(m[0])) return true;
  }
  return false;
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  for (const k of ["host", "request_duration", "http_username", "http_password"] as const) {
    if (prm[k] === null) throw new ConfigurationError("fireeye", `No ${k} provided.`);
  }
  const http = apiClient(prm, ctx.log);
  const root = prm.api_url ?? `https://${prm.host}/wsapis/v2.0.0/`;

  return {
    async collect(): Promise<Report[]> {
      let token: string | undefined;
      try {
        token = (await http.request(joinUrl(root, "auth/login"), { method: "POST", body: "" })).header("x-feapi-token");
      } catch (err) {
        if (err instanceof ApiStatusError) throw new ApiFormatError(`Could not connect to appliance check User/PW. HTTP response status code was ${err.status}.`, { cause: err });
        throw err;
      }
      if (!token) throw new ApiFormatError("The appliance gave no X-FeApi-Token at login.");
      const url = joinUrl(root, `alerts?duration=${encodeURIComponent(prm.request_duration!)}`);
      ctx.log.debug(`Downloading report from ${JSON.stringify(url)}.`);
      const message = (await http.request(url, { headers: { "x-feapi-token": token, accept: "application/json" } })).json<{ alert?: Alert[] }>();
      const reports: Report[] = [];
      // every alert's IOC is fetched before any report is sent: a failure sends nothing
      for (const alert of message?.alert ?? []) {
        ctx.log.debug(`Got a new message from product ${JSON.stringify(alert.product)} with UUID ${JSON.stringify(alert.uuid)}.`);
        if (alert.name !== "MALWARE_OBJECT" || (alert.product !== "EMAIL_MPS" && alert.product !== "MAS") || !alert.uuid) continue;
        const ioc = await http.request(joinUrl(root, `openioc?alert_uuid=${encodeURIComponent(alert.uuid)}`), { headers: { "x-feapi-token": token } });
        ctx.log.debug(`Collecting information for UUID: ${JSON.stringify(alert.uuid)}.`);
        if (!hasMd5Item(ioc.text())) {
          ctx.log.debug(`No Iocs for UUID: ${JSON.stringify(alert.uuid)}.`);
          continue;
        }
        const report = ctx.newReport();
        report.add("raw", ioc.body.toString("base64"), { sanitize: false });
        reports.push(report);
      }
      return reports;
    },
    shutdown: () => http.close(),
  };
}

export default defineBot({
  kind: "collector",
  name: "fireeye",
  intelmq: "intelmq.bots.collectors.fireeye.collector_mas",
  description: "Collect the OpenIOC documents of malware alerts from a FireEye appliance's API",
  params,
  create,
});
