// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP stream collector: keeps a streaming HTTP response open and sends each of its lines as a
 * report (IntelMQ's intelmq.bots.collectors.http.collector_http_stream).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { Agent, ProxyAgent, request, type Dispatcher } from "undici";
import { collectorParams, defineBot, httpParams, p, ReportStream, errorMessage, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  http_url: z.string().default("<insert url of feed>").describe("URL of the stream"),
  strip_lines: p.bool().default(true).describe("Strip whitespace from both ends of each line"),
  max_in_flight: p.int().pipe(z.number().int().positive()).default(1000)
    .describe("Ours: reports handed to the broker and not yet stored at most; the stream is read no further until some are"),
}).strict();

export type Params = z.infer<typeof params>;

/** Python's bytes.strip(): ASCII whitespace. */
const strip = (b: Buffer): Buffer => {
  let s = 0, e = b.length;
  const ws = (c: number) => c === 32 || (c >= 9 && c <= 13);
  while (s < e && ws(b[s]!)) s++;
  while (e > s && ws(b[e - 1]!)) e--;
  return b.subarray(s, e);
};

/** Splits a byte stream into lines at \n, \r\n and \r (bytes.splitlines), across chunks. */
export class LineSplitter {
  #rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    const buf = this.#rest.length ? Buffer.concat([this.#rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!;
      if (c !== 0x0a && c !== 0x0d) continue;
      if (c === 0x0d && i + 1 === buf.length) break; // \r at the end: \r\n may follow in the next chunk
      out.push(buf.subarray(start, i));
      if (c === 0x0d && buf[i + 1] === 0x0a) i++;
      start = i + 1;
    }
    this.#rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** The last line when the stream ended cleanly (without a final line end). */
  end(): Buffer | null {
    const r = this.#rest;
    this.#rest = Buffer.alloc(0);
    return r.length ? r : null;
  }
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const stream = new ReportStream();
  const [connectS, readS] = Array.isArray(prm.http_timeout_sec) ? prm.http_timeout_sec : [prm.http_timeout_sec, prm.http_timeout_sec];
  const tls: Record<string, unknown> = {};
  if (prm.http_verify_cert === false) tls.rejectUnauthorized = false;
  const ca = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  if (ca) tls.ca = readFileSync(ca);
  if (prm.ssl_client_certificate) tls.cert = tls.key = readFileSync(prm.ssl_client_certificate);
  const agentOpts = { connect: { timeout: Math.max(1, Number(connectS) * 1000), ...tls }, headersTimeout: Math.max(1, Number(readS) * 1000), bodyTimeout: Math.max(1, Number(readS) * 1000) };
  const proxy = prm.http_url.startsWith("https:") ? prm.https_proxy : prm.http_proxy;
  const dispatcher: Dispatcher = proxy ? new ProxyAgent({ uri: proxy, ...agentOpts, requestTls: tls }) : new Agent(agentOpts);
  const headers: Record<string, string> = { accept: "*/*" };
  if (prm.http_user_agent) headers["user-agent"] = prm.http_user_agent;
  if (prm.http_username !== null) headers.authorization = "Basic " + Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64");
  for (const [k, v] of Object.entries(prm.http_header ?? {})) headers[k.toLowerCase()] = v;

  const stop = new AbortController();
  let inFlight = 0;
  let room: (() => void) | null = null;
  const settled = () => {
    inFlight--;
    if (room && inFlight < prm.max_in_flight) { const r = room; room = null; r(); }
  };

  function pushLine(line: Buffer): void {
    const l = prm.strip_lines ? strip(line) : line;
    if (l.length === 0) return; // keep-alive newlines and empty lines
    const report = ctx.newReport();
    report.add("raw", l.toString("utf8"));
    report.add("feed.url", prm.http_url);
    inFlight++;
    stream.push(report, {
      queued: settled,
      // a stream cannot be asked again: the line is lost with the round (logged by the runtime)
      failed: settled,
    });
  }

  /** One connection: its lines until the stream ends (true) or breaks (throws). */
  async function follow(): Promise<void> {
    ctx.log.info(`Connecting to stream at ${JSON.stringify(prm.http_url)}.`);
    const res = await request(prm.http_url, { method: "GET", headers, dispatcher, signal: stop.signal });
    if (Math.floor(res.statusCode / 100) !== 2) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`HTTP response status code was ${res.statusCode}.`);
    }
    const lines = new LineSplitter();
    for await (const chunk of res.body) {
      for (const line of lines.push(chunk as Buffer)) pushLine(line);
      // back-pressure: read on once the broker caught up
      while (inFlight >= prm.max_in_flight && !stop.signal.aborted) await new Promise<void>((r) => { room = r; });
    }
    const last = lines.end();
    if (last) pushLine(last);
    ctx.log.info("Stream stopped.");
  }

  async function loop(): Promise<void> {
    let errors = 0;
    while (!stop.signal.aborted) {
      let wait: number;
      try {
        await follow();
        errors = 0;
        wait = ctx.runtime.rate_limit; // IntelMQ connects again after rate_limit
      } catch (err) {
        if (stop.signal.aborted) return;
        errors++;
        // an incomplete last line of a broken stream is not sent: it may be cut
        ctx.log.error(`The stream failed (${errorMessage(err)}); consecutive errors: ${errors}.`);
        wait = ctx.runtime.error_retry_delay;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, wait * 1000);
        stop.signal.addEventListener("abort", () => { clearTimeout(t); r(); }, { once: true });
      });
    }
  }

  const running = loop();

  return {
    streaming: true,
    collect: (signal) => stream.drain(signal),
    queued: (r: Report) => stream.queued(r),
    failed: (r: Report, err: unknown) => stream.failed(r, err),
    async shutdown() {
      stop.abort();
      if (room) { const r = room as () => void; room = null; r(); }
      await running;
      stream.close(new Error("the collector stopped"));
      await dispatcher.close();
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "http_stream",
  intelmq: "intelmq.bots.collectors.http.collector_http_stream",
  description: "Follows a streaming HTTP response, each line a report",
  params,
  runtimeDefaults: { rate_limit: 3600 },
  create,
});
