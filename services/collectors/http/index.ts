// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP collector: downloads a URL into a report, optionally extracting archives
 * (IntelMQ's intelmq.bots.collectors.http.collector_http).
 */
import { readFileSync } from "node:fs";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { z } from "zod";
import { Agent, Pool, ProxyAgent, request, type Dispatcher } from "undici";
import { PyDateTime, collectorParams, defineBot, httpParams, p, pyFormat, privateTarget, strftime, type BotContext, type CollectorImpl, type Report, ErrorCode, InvalidArgument, MissingDependencyError } from "../../../shared/sdk/index.js";
import { SizeLimitError, unzip, type Extracted } from "./archive.js";

/** Default of http_max_size: 256 MiB. */
export const DEFAULT_MAX_SIZE = 256 * 1024 * 1024;

const formatting = z.preprocess((v) => {
  if (typeof v === "string") {
    const s = v.trim();
    if (s.startsWith("{")) return JSON.parse(s);
  }
  return v;
}, z.union([p.bool(), z.record(z.string(), p.number())]));

export const params = z.object({
  ...collectorParams,
  ...httpParams,
  http_url: z.string().default("<insert url of feed>").describe("URL to download"),
  http_url_formatting: formatting.nullable().default(false).transform((v) => v ?? false)
    .describe("Format {time[<strftime>]} in http_url with the current local time; true, or a time delta such as {\"days\": -1}"),
  extract_files: z.union([z.null(), p.bool(), p.list()]).default(false).transform((v) => v ?? false)
    .describe("Extract archives (zip, tar, tar.gz, gzip): true for all files, or a list of file names; false: only zip archives are unpacked, anything else is sent as is"),
  http_max_redirects: p.int().pipe(z.number().int().min(0)).default(10)
    .describe("Ours: redirects followed at most (IntelMQ: 30)"),
  http_allow_private_redirects: p.bool().default(false)
    .describe("Ours: follow a redirect to a loopback, link-local or private address (refused by default: feed servers must not steer the collector into this network)"),
  http_max_size: p.int().pipe(z.number().int().positive()).default(DEFAULT_MAX_SIZE)
    .describe("Largest download (and extracted content) in bytes; larger downloads are aborted with an error"),
  ssl_client_cert: z.string().nullable().default(null).describe("Alias of ssl_client_certificate (IntelMQ's HTTP mixin name)"),
  verify_pgp_signatures: p.bool().default(false).describe("PGP signature verification: not supported; true stops the bot at start"),
  signature_url: z.string().nullable().default(null).describe("URL of the PGP signature (unused: no PGP support)"),
  signature_url_formatting: formatting.nullable().default(false).describe("Formatting of signature_url (unused: no PGP support)"),
  gpg_keyring: z.string().nullable().default(null).describe("GPG keyring (unused: no PGP support)"),
}).strict();

export type Params = z.infer<typeof params>;

/** The URL with {time[...]} filled in, as IntelMQ's format_url (local time plus an optional delta). */
export function formatUrl(url: string, fmt: boolean | Record<string, number>, now = new Date()): string {
  let ms = now.getTime();
  if (typeof fmt === "object") {
    const units: Record<string, number> = { weeks: 604800e3, days: 86400e3, hours: 3600e3, minutes: 60e3, seconds: 1e3, milliseconds: 1, microseconds: 1e-3 };
    for (const [k, v] of Object.entries(fmt)) {
      if (!(k in units)) throw new InvalidArgument("http_url_formatting", fmt, "a time delta with weeks, days, hours, minutes, seconds, milliseconds, microseconds");
      ms += v * units[k]!;
    }
  }
  const time = new PyDateTime(new Date(ms), 0, false);
  return pyFormat(url, { time: (spec: string) => strftime(time, spec) });
}

function timeoutsOf(t: number | [number, number]): { connect: number; read: number } {
  const [c, r] = Array.isArray(t) ? t : [t, t];
  return { connect: Math.max(1, c * 1000), read: Math.max(1, r * 1000) };
}

const RETRYABLE = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "ECONNREFUSED", "ECONNRESET", "EAI_AGAIN", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET"]);

/** Node's codes for a server certificate that could not be verified. */
const TLS_VERIFY_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE", "CERT_REJECTED", "INVALID_CA", "ERR_TLS_CERT_ALTNAME_INVALID", "HOSTNAME_MISMATCH",
]);

/** The server's TLS certificate was not accepted (IntelMQ: requests' SSLError); fails the round. */
export class TlsVerificationError extends Error {
  override readonly name = "TlsVerificationError";
  readonly code = ErrorCode.TlsVerification;
  /** Node's code of the verification failure, e.g. DEPTH_ZERO_SELF_SIGNED_CERT. */
  readonly tlsCode: string;
  constructor(url: string, cause: Error & { code?: string }) {
    super(`TLS certificate verification of ${url} failed: ${cause.message} (${cause.code}). Trust the server's CA with `
      + "ssl_ca_certificate (or http_verify_cert: <CA file>), or turn verification off with http_verify_cert: false.", { cause });
    this.tlsCode = cause.code ?? "";
  }
}

/** The certificate error in err or its causes (a proxy tunnel wraps it), if any. */
function tlsVerifyFailure(err: unknown): (Error & { code?: string }) | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TLS_VERIFY_CODES.has(code)) return e as Error & { code: string };
  }
  return null;
}

function charsetOf(contentType: string | undefined): string | null {
  const m = contentType ? /charset\s*=\s*"?([^";\s]+)/i.exec(contentType) : null;
  return m ? m[1]!.toLowerCase() : null;
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  if (prm.verify_pgp_signatures) {
    throw new MissingDependencyError("gnupg", undefined, undefined, "PGP signature verification is not supported by this collector");
  }
  const { connect, read } = timeoutsOf(prm.http_timeout_sec as number | [number, number]);
  const tls: Record<string, unknown> = {};
  const verify = prm.http_verify_cert;
  if (verify === false) tls.rejectUnauthorized = false;
  const caFile = typeof verify === "string" ? verify : prm.ssl_ca_certificate;
  if (caFile) tls.ca = readFileSync(caFile);
  const clientCert = prm.ssl_client_certificate ?? prm.ssl_client_cert;
  if (clientCert) {
    const pem = readFileSync(clientCert);
    tls.cert = pem;
    tls.key = pem;
  }
  const agentOpts = { connect: { timeout: connect, ...tls }, headersTimeout: read, bodyTimeout: read };
  let proxies: { http: string; https: string } | null = null;
  if (prm.http_proxy && prm.https_proxy) proxies = { http: prm.http_proxy, https: prm.https_proxy };
  else if (prm.http_proxy || prm.https_proxy) {
    ctx.log.warn(`Only ${prm.http_proxy ? "http" : "https"}_proxy seems to be set. Both http and https proxies must be set.`);
  }
  // Redirects are followed here, not by undici: each target is checked and credentials stay with their host.
  const direct = new Agent(agentOpts);
  const viaProxy = new Map<string, Dispatcher>();
  const dispatcherFor = (url: string): Dispatcher => {
    if (!proxies) return direct;
    const uri = url.startsWith("https:") ? proxies.https : proxies.http;
    let d = viaProxy.get(uri);
    if (!d) {
      d = new ProxyAgent({
        uri, ...agentOpts,
        // http:// URLs as absolute-form requests, as requests does (proxies often allow CONNECT to port 443 only);
        // https:// URLs always through a CONNECT tunnel, verified at its end.
        proxyTunnel: false,
        requestTls: { ...tls, timeout: connect }, proxyTls: { ...tls, timeout: connect },
        // the agent of a non-tunnelled proxy gets no options but `connect`: keep the read timeouts
        factory: (origin: string | URL, o: object) => new Pool(origin, { ...o, headersTimeout: read, bodyTimeout: read }),
      });
      viaProxy.set(uri, d);
    }
    return d;
  };

  const headers: Record<string, string> = { "accept": "*/*", "accept-encoding": "gzip, deflate, br" };
  if (prm.http_user_agent) headers["user-agent"] = prm.http_user_agent;
  if (prm.http_username !== null) {
    headers["authorization"] = "Basic " + Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64");
  }
  for (const [k, v] of Object.entries(prm.http_header ?? {})) headers[k.toLowerCase()] = v;
  const maxSize = prm.http_max_size;
  const limits = { maxOutput: maxSize };
  const tries = Math.max(1, prm.http_timeout_max_tries);

  // Sent only to the host of http_url: basic auth and the operator's headers (often an API key).
  const anonymous: Record<string, string> = { accept: headers.accept!, "accept-encoding": headers["accept-encoding"]! };
  if (headers["user-agent"]) anonymous["user-agent"] = headers["user-agent"];

  /** GET url, following redirects: at most http_max_redirects, never to a private address unless allowed, credentials only to the first host. */
  async function follow(url: string): Promise<Dispatcher.ResponseData> {
    const origin = new URL(url).origin;
    let current = url;
    for (let hop = 0; ; hop++) {
      const own = new URL(current).origin === origin;
      const res = await request(current, { method: "GET", headers: own ? headers : anonymous, dispatcher: dispatcherFor(current) });
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(res.statusCode) || !location) return res;
      res.body.resume();
      if (hop >= prm.http_max_redirects) throw new Error(`Download of ${url}: more than ${prm.http_max_redirects} redirects (http_max_redirects).`);
      const next = new URL(String(Array.isArray(location) ? location[0] : location), current);
      if (next.protocol !== "http:" && next.protocol !== "https:") throw new Error(`Download of ${url}: refused a redirect to ${next.protocol} (${next.href}).`);
      // Within the operator's own host a redirect stays where http_url points anyway.
      if (!prm.http_allow_private_redirects && next.hostname !== new URL(url).hostname) {
        const why = await privateTarget(next.href);
        if (why) throw new Error(`Download of ${url}: refused a redirect to ${next.href}: ${why} (set http_allow_private_redirects to follow it).`);
      }
      ctx.log.debug(`Redirected from ${current} to ${next.href}.`);
      current = next.href;
    }
  }

  async function download(url: string): Promise<{ body: Buffer; contentType: string | undefined }> {
    for (let attempt = 1; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await follow(url);
      } catch (err) {
        const cert = tlsVerifyFailure(err);
        if (cert) throw new TlsVerificationError(url, cert);
        const code = (err as { code?: string }).code ?? "";
        if (attempt < tries && RETRYABLE.has(code)) {
          ctx.log.warn({ err, attempt }, `Download of ${url} failed (${code}), retrying.`);
          continue;
        }
        throw err;
      }
      const status = res.statusCode;
      const length = Number(res.headers["content-length"] ?? NaN);
      if (Math.floor(status / 100) !== 2) {
        const text = (await readLimited(res.body, 65536, true)).toString("utf8");
        ctx.log.debug({ headers: res.headers, body: text }, "Response of the failed request.");
        throw new Error(`HTTP response status code was ${status}.`);
      }
      if (length > maxSize) {
        res.body.destroy();
        throw new SizeLimitError(`Download of ${url} (${length} bytes)`, maxSize);
      }
      let body = await readLimited(res.body, maxSize, false, url);
      const enc = String(res.headers["content-encoding"] ?? "").trim().toLowerCase();
      try {
        if (enc === "gzip" || enc === "x-gzip") body = gunzipSync(body, { maxOutputLength: maxSize });
        else if (enc === "deflate") body = inflateSync(body, { maxOutputLength: maxSize });
        else if (enc === "br") body = brotliDecompressSync(body, { maxOutputLength: maxSize });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw new SizeLimitError(`Decoded download of ${url}`, maxSize);
        throw err;
      }
      const ct = res.headers["content-type"];
      return { body, contentType: Array.isArray(ct) ? ct[0] : ct };
    }
  }

  async function readLimited(body: Dispatcher.ResponseData["body"], limit: number, truncate: boolean, url = ""): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        body.destroy();
        if (truncate) break;
        throw new SizeLimitError(`Download of ${url}`, limit);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, Math.min(total, limit));
  }

  /** A body as IntelMQ's resp.text would give it: transcoded to UTF-8 when the server names another charset. */
  function asText(body: Buffer, contentType: string | undefined): Buffer {
    const cs = charsetOf(contentType);
    if (!cs || cs === "utf-8" || cs === "utf8" || cs === "us-ascii" || cs === "ascii") return body;
    try {
      return Buffer.from(new TextDecoder(cs).decode(body), "utf8");
    } catch {
      return body;
    }
  }

  return {
    async *collect(): AsyncIterable<Report> {
      const url = prm.http_url_formatting ? formatUrl(prm.http_url, prm.http_url_formatting) : prm.http_url;
      ctx.log.info(`Downloading report from ${JSON.stringify(url)}.`);
      const { body, contentType } = await download(url);
      ctx.log.info("Report downloaded.");
      let files: Extracted[];
      if (prm.extract_files === false) {
        try {
          files = unzip(body, true, limits, { zip: true });
          ctx.log.info(`Extracting files: '${files.map((f) => f.name).join("', '")}'.`);
        } catch (err) {
          if (err instanceof SizeLimitError) throw err;
          files = [{ name: null, data: asText(body, contentType) }];
        }
      } else {
        files = unzip(body, prm.extract_files === true ? true : prm.extract_files, limits);
      }
      for (const { name, data } of files) {
        if (data.length === 0) {
          ctx.log.warn("Ignoring report without raw field. Possible bug or misconfiguration of this bot.");
          continue;
        }
        const report = ctx.newReport();
        report.add("raw", data.toString("base64"), { sanitize: false });
        report.add("feed.url", url);
        if (name) report.add("extra.file_name", name);
        yield report;
      }
    },
    async shutdown(): Promise<void> {
      await Promise.all([direct.close(), ...[...viaProxy.values()].map((d) => d.close())]);
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "http",
  intelmq: "intelmq.bots.collectors.http.collector_http",
  description: "Download a URL into reports, optionally extracting zip, tar(.gz) and gzip archives",
  params,
  runtimeDefaults: { rate_limit: 3600 }, // IntelMQ: the HTTP collector fetches hourly
  create,
});
