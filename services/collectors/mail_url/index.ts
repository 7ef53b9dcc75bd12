// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Mail URL collector: downloads the URL found in the plain-text body of unread mails into reports
 * (IntelMQ's intelmq.bots.collectors.mail.collector_mail_url).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { Agent, ProxyAgent, interceptors, request, type Dispatcher } from "undici";
import { defineBot, httpParams, p, pyRegex, errorMessage, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { splitChunks } from "../file/index.js";
import { MAIL_RATE_LIMIT, addMailFields, mailCollector, mailParams, type Mail } from "../mail_attach/mailbox.js";

/** Largest download in bytes. */
export const MAX_DOWNLOAD = 256 * 1024 * 1024;

export const params = z.object({
  ...httpParams,
  ...mailParams,
  url_regex: z.string().default("http://").describe("Regular expression (search) whose match in a plain-text body is the URL to download"),
  chunk_size: p.int().pipe(z.number().int().positive()).nullable().default(null)
    .describe("Split downloads into reports of at most this many bytes, at line ends; null: one report per download"),
  chunk_replicate_header: p.bool().default(true).describe("With chunk_size: repeat the first line at the start of every chunk"),
}).strict();

export type Params = z.infer<typeof params>;

/** A download that failed; `permanent` for 4xx answers (the server refuses this URL for good). */
class DownloadError extends Error {
  override readonly name = "DownloadError";
  constructor(message: string, readonly permanent = false) { super(message); }
}

/** IntelMQ's file_name_from_response: `filename=` of Content-Disposition, else the URL's last segment. */
export function fileNameOf(disposition: string | undefined, url: string): string {
  const m = disposition ? /filename=(.+)/.exec(disposition) : null;
  if (m) return m[1]!.trim().replace(/^"(.*)"$/, "$1");
  return url.split("/").at(-1)!;
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const urlRe = pyRegex(prm.url_regex);
  const timeouts = Array.isArray(prm.http_timeout_sec) ? prm.http_timeout_sec : [prm.http_timeout_sec, prm.http_timeout_sec];
  const [connectMs, readMs] = timeouts.map((t) => Math.max(1, Number(t) * 1000)) as [number, number];
  const tls: Record<string, unknown> = {};
  if (prm.http_verify_cert === false) tls.rejectUnauthorized = false;
  const ca = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  if (ca) tls.ca = readFileSync(ca);
  if (prm.ssl_client_certificate) tls.cert = tls.key = readFileSync(prm.ssl_client_certificate);
  const agentOpts = { connect: { timeout: connectMs, ...tls }, headersTimeout: readMs, bodyTimeout: readMs };
  const redirect = interceptors.redirect({ maxRedirections: 30 });
  const direct = new Agent(agentOpts).compose(redirect);
  const proxies = new Map<string, Dispatcher>();
  const dispatcherFor = (url: string): Dispatcher => {
    const proxy = url.startsWith("https:") ? prm.https_proxy : prm.http_proxy;
    if (!proxy) return direct;
    let d = proxies.get(proxy);
    if (!d) proxies.set(proxy, d = new ProxyAgent({ uri: proxy, ...agentOpts, requestTls: tls }).compose(redirect));
    return d;
  };
  const headers: Record<string, string> = { accept: "*/*" };
  if (prm.http_user_agent) headers["user-agent"] = prm.http_user_agent;
  if (prm.http_username !== null) headers.authorization = "Basic " + Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64");
  for (const [k, v] of Object.entries(prm.http_header ?? {})) headers[k.toLowerCase()] = v;
  const tries = Math.max(1, prm.http_timeout_max_tries);

  async function download(url: string): Promise<{ body: Buffer; disposition: string | undefined }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(url, { method: "GET", headers, dispatcher: dispatcherFor(url) });
        if (Math.floor(res.statusCode / 100) !== 2) {
          await res.body.dump();
          throw new DownloadError(`HTTP response status code was ${res.statusCode}.`, Math.floor(res.statusCode / 100) === 4);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of res.body) {
          size += (c as Buffer).length;
          if (size > MAX_DOWNLOAD) { res.body.destroy(); throw new DownloadError(`Download of ${url} exceeds ${MAX_DOWNLOAD} bytes.`); }
          chunks.push(c as Buffer);
        }
        const cd = res.headers["content-disposition"];
        return { body: Buffer.concat(chunks), disposition: Array.isArray(cd) ? cd[0] : cd };
      } catch (err) {
        const code = (err as { code?: string }).code ?? "";
        const timedOut = /TIMEOUT/.test(code);
        if (timedOut && attempt < tries) continue;
        if (timedOut) throw new DownloadError(`Request timed out ${tries} times in a row.`);
        throw err;
      }
    }
  }

  async function* urls(mail: Mail): AsyncGenerator<Report, boolean> {
    let erroneous = false;
    let transient = false;
    let seen = false;
    for (const body of mail.bodies.plain) {
      const m = urlRe.exec(body);
      if (!m) continue;
      const url = m[0].trim();
      ctx.log.info(`Downloading report from ${JSON.stringify(url)}.`);
      let got: { body: Buffer; disposition: string | undefined };
      try {
        got = await download(url);
      } catch (err) {
        // IntelMQ leaves the mail unread for the next round (unless error_procedure is pass)
        ctx.log.error(`Download of ${url} failed: ${errorMessage(err)}`);
        erroneous = true;
        if (!(err instanceof DownloadError && err.permanent)) transient = true;
        continue;
      }
      if (got.body.length === 0) ctx.log.warn("Got empty response from server.");
      else {
        ctx.log.info("Report downloaded.");
        const template = ctx.newReport();
        template.add("feed.url", url);
        addMailFields(template, mail);
        template.add("extra.file_name", fileNameOf(got.disposition, url));
        const pieces = prm.chunk_size === null ? [got.body] : chunked(got.body, prm.chunk_size, prm.chunk_replicate_header);
        for (const piece of pieces) {
          const report = template.copy();
          report.add("raw", piece.toString("base64"), { sanitize: false, overwrite: true });
          yield report;
        }
      }
      seen = true;
    }
    if (!erroneous) ctx.log.info("Email report read.");
    else if (transient) {
      // ours: a broken connection, a timeout or a 5xx is read again next round, whatever error_procedure
      ctx.log.error("Email report read with above errors, the mail stays unread to be read again.");
      return false;
    } else if (ctx.runtime.error_procedure === "pass") seen = true;
    else ctx.log.error("Email report read with above errors, the report was not processed.");
    return seen;
  }

  const impl = mailCollector(prm, ctx, urls);
  return {
    ...impl,
    async shutdown() {
      await Promise.all([direct.close(), ...[...proxies.values()].map((d) => d.close())]);
    },
  };
}

/** IntelMQ's generate_reports with a chunk size: the first line (optionally) before every chunk. */
function chunked(data: Buffer, size: number, header: boolean): Buffer[] {
  let head: Buffer = Buffer.alloc(0), body: Buffer = data;
  if (header) {
    const nl = data.indexOf(10);
    head = nl === -1 ? data : data.subarray(0, nl + 1);
    body = nl === -1 ? Buffer.alloc(0) : data.subarray(nl + 1);
  }
  return [...splitChunks(body, size)].map((c) => Buffer.concat([head, c]));
}

export default defineBot({
  kind: "collector",
  name: "mail_url",
  intelmq: "intelmq.bots.collectors.mail.collector_mail_url",
  description: "Downloads the URL found in unread mails of an IMAP folder into reports; marks the mails seen once queued",
  params,
  runtimeDefaults: { rate_limit: MAIL_RATE_LIMIT },
  create,
});
