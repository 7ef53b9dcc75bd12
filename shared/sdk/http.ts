// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP for bots that look things up in web APIs (experts): IntelMQ's HTTP parameters (timeouts,
 * tries on timeouts, proxies, headers, basic auth, TLS) applied to undici, and a JSON cache of
 * lookups in a KV bucket with TTL. A failed lookup throws: the runtime retries the message and
 * dumps it in the end, nothing is dropped.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { STATUS_CODES } from "node:http";
import { createRequire } from "node:module";
import type { Dispatcher } from "undici";
import type { Logger } from "pino";
import type { BotContext } from "../runtime/index.js";

/** The HTTP parameters (httpParams) as a bot's parsed schema holds them; all optional. */
// undici is loaded by the first client, not with the SDK: it costs every bot process some 15 MiB
// (its WebAssembly HTTP parser), and most bots never make a request.
const requireHere = createRequire(import.meta.url);
let undici: typeof import("undici") | null = null;
const loadUndici = (): typeof import("undici") => (undici ??= requireHere("undici") as typeof import("undici"));

export interface HttpOptions {
  http_proxy?: string | null;
  https_proxy?: string | null;
  http_timeout_sec?: number | readonly number[];
  http_timeout_max_tries?: number;
  http_user_agent?: string | null;
  http_verify_cert?: boolean | string;
  ssl_client_certificate?: string | null;
  ssl_ca_certificate?: string | null;
  http_username?: string | null;
  http_password?: string | null;
  http_header?: Record<string, string> | null;
}

export interface HttpRequest {
  method?: string;
  /** Query parameters appended to the URL (URL-encoded as requests does: spaces as +). */
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  /** A string is sent as is; an object as application/x-www-form-urlencoded. */
  body?: string | Record<string, string>;
  /** Largest answer body in bytes (default 64 MiB); a larger one fails the request. */
  maxBytes?: number;
}

export interface HttpResponse {
  readonly url: string;
  readonly status: number;
  /** The reason phrase (Node's for the status: undici does not expose the server's). */
  readonly reason: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** True for 2xx and 3xx (requests' bool(response): status below 400). */
  readonly ok: boolean;
  text(): string;
  /** The body as JSON; a body that is not JSON throws MalformedResponse. */
  json(): unknown;
}

/** The server answered with something that cannot be what the API documents. */
export class MalformedResponse extends Error {
  override readonly name = "MalformedResponse";
  constructor(readonly url: string, what: string, options?: ErrorOptions) {
    super(`Malformed response from ${url}: ${what}`, options);
  }
}

/** A status the bot does not handle (the message is retried, then dumped). */
export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";
  constructor(readonly url: string, readonly status: number, readonly bodyExcerpt = "") {
    super(`HTTP status code was ${status} for ${url}.`);
  }
}

/** The request got no answer within http_timeout_sec, on each of http_timeout_max_tries tries. */
export class HttpTimeout extends Error {
  override readonly name = "HttpTimeout";
  constructor(readonly url: string, tries: number, options?: ErrorOptions) {
    super(`No answer from ${url} within the timeout (${tries} ${tries === 1 ? "try" : "tries"}).`, options);
  }
}

/** Largest answer body read by default: 64 MiB. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);
const RETRYABLE = new Set([...TIMEOUT_CODES, "ECONNREFUSED", "ECONNRESET", "EAI_AGAIN", "EPIPE", "UND_ERR_SOCKET"]);

function encodeQuery(q: Record<string, string | number | boolean>): string {
  return Object.entries(q).map(([k, v]) => `${plusEncode(k)}=${plusEncode(String(v))}`).join("&");
}
/** requests' urlencode: spaces as +, everything but unreserved characters percent-encoded. */
function plusEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+");
}

export interface HttpClient {
  request(url: string, req?: HttpRequest): Promise<HttpResponse>;
  get(url: string, req?: Omit<HttpRequest, "method">): Promise<HttpResponse>;
  close(): Promise<void>;
}

/** An HTTP client configured by IntelMQ's HTTP parameters. */
export function httpClient(prm: HttpOptions, log: Logger, extraHeaders: Record<string, string> = {}): HttpClient {
  const t = prm.http_timeout_sec ?? 30;
  const [connectS, readS] = Array.isArray(t) ? [t[0] ?? 30, t[1] ?? t[0] ?? 30] : [t as number, t as number];
  const connect = Math.max(1, connectS * 1000);
  const read = Math.max(1, readS * 1000);
  const tls: Record<string, unknown> = {};
  if (prm.http_verify_cert === false) tls.rejectUnauthorized = false;
  const caFile = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  if (caFile) tls.ca = readFileSync(caFile);
  if (prm.ssl_client_certificate) {
    const pem = readFileSync(prm.ssl_client_certificate);
    tls.cert = pem;
    tls.key = pem;
  }
  const agentOpts = { connect: { timeout: connect, ...tls }, headersTimeout: read, bodyTimeout: read };
  const { Agent, Pool, ProxyAgent, interceptors, request } = loadUndici();
  const redirect = interceptors.redirect({ maxRedirections: 30 });
  const dispatcher: Dispatcher = new Agent(agentOpts).compose(redirect);
  let httpsProxy: Dispatcher | null = null;
  let httpProxy: Dispatcher | null = null;
  if (prm.http_proxy && prm.https_proxy) {
    // https:// through a CONNECT tunnel, verified at its end; http:// as absolute-form requests,
    // as requests does (proxies often allow CONNECT to port 443 only)
    httpsProxy = new ProxyAgent({ uri: prm.https_proxy, ...agentOpts, requestTls: { ...tls, timeout: connect } }).compose(redirect);
    httpProxy = new ProxyAgent({
      uri: prm.http_proxy, ...agentOpts, proxyTunnel: false,
      // the agent of a non-tunnelled proxy gets no options but `connect`: keep the read timeouts
      factory: (origin: string | URL, o: object) => new Pool(origin, { ...o, headersTimeout: read, bodyTimeout: read }),
    }).compose(redirect);
  } else if (prm.http_proxy || prm.https_proxy) {
    log.warn(`Only ${prm.http_proxy ? "http" : "https"}_proxy seems to be set. Both http and https proxies must be set.`);
  }
  const pick = (url: string): Dispatcher => (httpsProxy && httpProxy ? (url.startsWith("https:") ? httpsProxy : httpProxy) : dispatcher);

  const headers: Record<string, string> = { "accept": "*/*" };
  // IntelMQ: http_header replaces the User-Agent default when given
  if (prm.http_user_agent) headers["user-agent"] = prm.http_user_agent;
  if (prm.http_username != null) {
    headers["authorization"] = "Basic " + Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64");
  }
  for (const [k, v] of Object.entries(prm.http_header ?? {})) headers[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(extraHeaders)) headers[k.toLowerCase()] = v;
  const tries = Math.max(1, prm.http_timeout_max_tries ?? 3);

  async function doRequest(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
    const full = req.query && Object.keys(req.query).length ? `${url}${url.includes("?") ? "&" : "?"}${encodeQuery(req.query)}` : url;
    const h = { ...headers };
    for (const [k, v] of Object.entries(req.headers ?? {})) h[k.toLowerCase()] = v;
    let body: string | undefined;
    if (typeof req.body === "string") body = req.body;
    else if (req.body) {
      body = encodeQuery(req.body);
      h["content-type"] ??= "application/x-www-form-urlencoded";
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(full, { method: (req.method ?? "GET") as Dispatcher.HttpMethod, headers: h, body, dispatcher: pick(full) });
        const chunks: Buffer[] = [];
        const max = req.maxBytes ?? DEFAULT_MAX_BYTES;
        let size = 0;
        for await (const c of res.body) {
          size += (c as Buffer).length;
          if (size > max) {
            res.body.destroy();
            throw new MalformedResponse(full, `the answer is larger than ${max} bytes`);
          }
          chunks.push(c as Buffer);
        }
        return makeResponse(full, res.statusCode, res.headers, Buffer.concat(chunks));
      } catch (err) {
        const code = (err as { code?: string }).code ?? "";
        if (attempt < tries && RETRYABLE.has(code)) {
          log.warn({ attempt, code }, `Request to ${full} failed (${code}), trying again.`);
          continue;
        }
        if (TIMEOUT_CODES.has(code)) throw new HttpTimeout(full, attempt, { cause: err });
        throw err;
      }
    }
  }
  return {
    request: doRequest,
    get: (url, req = {}) => doRequest(url, { ...req, method: "GET" }),
    async close() {
      await Promise.all([dispatcher, httpsProxy, httpProxy].filter((d): d is Dispatcher => d !== null).map((d) => d.close()));
    },
  };
}

function makeResponse(url: string, status: number, headers: Record<string, string | string[] | undefined>, body: Buffer): HttpResponse {
  return {
    url, status, headers, body,
    reason: STATUS_CODES[status] ?? "",
    ok: status < 400,
    text: () => body.toString("utf8"),
    json(): unknown {
      try {
        return JSON.parse(body.toString("utf8"));
      } catch (err) {
        throw new MalformedResponse(url, `not JSON (${JSON.stringify(body.toString("utf8").slice(0, 80))})`, { cause: err });
      }
    },
  };
}

/** JSON values of lookups, kept in a KV bucket for ttl seconds; keys may hold any characters. */
export interface LookupCache {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

/** A lookup cache in `bucket` (ctx.cache), or null when ttlSeconds is 0 (no caching). */
export async function lookupCache(ctx: BotContext, bucket: string, ttlSeconds: number): Promise<LookupCache | null> {
  if (ttlSeconds <= 0) return null;
  const kv = await ctx.cache(bucket, ttlSeconds);
  // KV keys allow only [-/_=.a-zA-Z0-9]: readable keys stay, anything else is hashed
  const kvKey = (key: string): string => (/^[-_=a-zA-Z0-9]{1,200}$/.test(key) ? `k.${key}` : `h.${createHash("sha256").update(key).digest("hex")}`);
  return {
    async get(key) {
      const v = await kv.get(kvKey(key));
      return v === null ? undefined : JSON.parse(v) as unknown;
    },
    async set(key, value) {
      await kv.put(kvKey(key), JSON.stringify(value));
    },
  };
}
