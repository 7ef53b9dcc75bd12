// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTTP for the collectors of vendor APIs (Shadowserver, GitHub, MISP, RT, ...): IntelMQ's HTTP
 * parameters (httpParams) applied to undici, whole answers read into memory up to a limit. A
 * status the caller does not accept throws ApiStatusError (IntelMQ: raise_for_status), which
 * fails the round; nothing is marked fetched then.
 */
import { readFileSync } from "node:fs";
import { Agent, Pool, ProxyAgent, interceptors, request, type Dispatcher } from "undici";
import type { BotContext } from "../../../shared/sdk/index.js";

type Logger = BotContext["log"];

/** The HTTP parameters as a parsed schema holds them (all optional: some APIs take only a few). */
export interface ApiHttpOptions {
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

export interface ApiRequest {
  method?: string;
  /** Query parameters, appended to the URL. */
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** A string or bytes as is; anything else as JSON (content-type application/json). */
  body?: string | Uint8Array | object;
  /** Largest answer in bytes (default 256 MiB). */
  maxBytes?: number;
  /** Statuses accepted besides 2xx (e.g. 404 where "none" is an answer). */
  accept?: readonly number[];
}

export interface ApiResponse {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  text(): string;
  json<T = unknown>(): T;
  header(name: string): string | undefined;
}

/** The API answered with a status the collector cannot go on with. */
export class ApiStatusError extends Error {
  override readonly name = "ApiStatusError";
  constructor(readonly url: string, readonly status: number, readonly excerpt: string) {
    super(`HTTP status ${status} from ${url}${excerpt ? `: ${excerpt}` : ""}`);
  }
}

/** The API answered with something that is not what it documents. */
export class ApiFormatError extends Error {
  override readonly name = "ApiFormatError";
}

export interface ApiClient {
  request(url: string, req?: ApiRequest): Promise<ApiResponse>;
  /** A 2xx answer whose body is read by the caller (a stream); `signal` aborts it. */
  open(url: string, req: { headers?: Record<string, string>; signal?: AbortSignal }): Promise<Dispatcher.ResponseData>;
  close(): Promise<void>;
}

const DEFAULT_MAX = 256 * 1024 * 1024;
const RETRYABLE = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN"]);

/** URL with the query parameters added (undefined ones left out). */
export function withQuery(url: string, query: ApiRequest["query"]): string {
  if (!query) return url;
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.append(k, String(v));
  return u.toString();
}

/** The URL as logs and errors show it: values of query parameters that carry secrets masked. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:key|apikey|api_key|token|access_token|sig|signature|password|pass)=)[^&#]*/gi, "$1***");
}

/** `base` joined with `path` as a directory (a missing trailing slash of base is added). */
export function joinUrl(base: string, path: string): string {
  return (base.endsWith("/") ? base : base + "/") + path.replace(/^\/+/, "");
}

export function apiClient(prm: ApiHttpOptions, log: Logger, defaults: Record<string, string> = {}): ApiClient {
  const t = prm.http_timeout_sec ?? 30;
  const [cs, rs] = Array.isArray(t) ? [t[0] ?? 30, t[1] ?? t[0] ?? 30] : [t as number, t as number];
  const connect = Math.max(1, cs * 1000);
  const read = Math.max(1, rs * 1000);
  const tls: Record<string, unknown> = {};
  if (prm.http_verify_cert === false) tls.rejectUnauthorized = false;
  const ca = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  if (ca) tls.ca = readFileSync(ca);
  if (prm.ssl_client_certificate) tls.cert = tls.key = readFileSync(prm.ssl_client_certificate);
  const agentOpts = { connect: { timeout: connect, ...tls }, headersTimeout: read, bodyTimeout: read };
  const redirect = interceptors.redirect({ maxRedirections: 30 });
  const direct: Dispatcher = new Agent(agentOpts).compose(redirect);
  let viaHttps: Dispatcher | null = null;
  let viaHttp: Dispatcher | null = null;
  if (prm.http_proxy && prm.https_proxy) {
    viaHttps = new ProxyAgent({ uri: prm.https_proxy, ...agentOpts, requestTls: { ...tls, timeout: connect } }).compose(redirect);
    viaHttp = new ProxyAgent({
      uri: prm.http_proxy, ...agentOpts, proxyTunnel: false,
      factory: (origin: string | URL, o: object) => new Pool(origin, { ...o, headersTimeout: read, bodyTimeout: read }),
    }).compose(redirect);
  } else if (prm.http_proxy || prm.https_proxy) {
    log.warn(`Only ${prm.http_proxy ? "http" : "https"}_proxy seems to be set. Both http and https proxies must be set.`);
  }
  const pick = (url: string) => (viaHttps && viaHttp ? (url.startsWith("https:") ? viaHttps : viaHttp) : direct);

  const base: Record<string, string> = { accept: "*/*" };
  if (prm.http_user_agent) base["user-agent"] = prm.http_user_agent;
  if (prm.http_username != null) base.authorization = "Basic " + Buffer.from(`${prm.http_username}:${prm.http_password ?? ""}`).toString("base64");
  for (const [k, v] of Object.entries(prm.http_header ?? {})) base[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(defaults)) base[k.toLowerCase()] = v;
  const tries = Math.max(1, prm.http_timeout_max_tries ?? 3);

  async function send(url: string, req: ApiRequest = {}): Promise<ApiResponse> {
    const full = withQuery(url, req.query);
    const headers = { ...base };
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
    let body: string | Uint8Array | undefined;
    if (typeof req.body === "string" || req.body instanceof Uint8Array) body = req.body;
    else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["content-type"] ??= "application/json";
    }
    const max = req.maxBytes ?? DEFAULT_MAX;
    for (let attempt = 1; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(full, { method: (req.method ?? "GET") as Dispatcher.HttpMethod, headers, body, dispatcher: pick(full) });
      } catch (err) {
        const code = (err as { code?: string }).code ?? "";
        // only failures before anything was sent are retried: a request may have side effects
        if (attempt < tries && RETRYABLE.has(code)) {
          log.warn({ attempt, code }, `Request to ${redactUrl(full)} failed (${code}), trying again.`);
          continue;
        }
        throw err;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += (c as Buffer).length;
        if (size > max) {
          res.body.destroy();
          throw new ApiFormatError(`The answer of ${redactUrl(full)} is larger than ${max} bytes.`);
        }
        chunks.push(c as Buffer);
      }
      const buf = Buffer.concat(chunks);
      const ok = (res.statusCode >= 200 && res.statusCode < 300) || (req.accept ?? []).includes(res.statusCode);
      if (!ok) throw new ApiStatusError(redactUrl(full), res.statusCode, buf.toString("utf8", 0, 200).trim());
      return response(full, res.statusCode, res.headers, buf);
    }
  }
  async function open(url: string, req: { headers?: Record<string, string>; signal?: AbortSignal }): Promise<Dispatcher.ResponseData> {
    const headers = { ...base };
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
    const res = await request(url, { method: "GET", headers, signal: req.signal, dispatcher: pick(url) });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const text = (await res.body.text().catch(() => "")).slice(0, 200).trim();
      throw new ApiStatusError(redactUrl(url), res.statusCode, text);
    }
    return res;
  }
  return {
    request: send,
    open,
    async close() {
      await Promise.all([direct, viaHttp, viaHttps].filter((d): d is Dispatcher => d !== null).map((d) => d.close()));
    },
  };
}

function response(url: string, status: number, headers: ApiResponse["headers"], body: Buffer): ApiResponse {
  return {
    url, status, headers, body,
    text: () => body.toString("utf8"),
    json<T>(): T {
      try {
        return JSON.parse(body.toString("utf8")) as T;
      } catch (err) {
        throw new ApiFormatError(`The answer of ${redactUrl(url)} is not JSON: ${JSON.stringify(body.toString("utf8", 0, 80))}`, { cause: err });
      }
    },
    header(name: string) {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
  };
}
