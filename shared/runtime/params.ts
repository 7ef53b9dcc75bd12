// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Parameter groups that several bots share. The zod building blocks `p.*` (numbers and
 * booleans as strings, comma-separated lists, the rule for "") are shared/config's, the same
 * ones runtime.yaml's own keys use.
 */
import { z } from "zod";
import { p } from "../config/index.js";

export { p };

/** Feed parameters every collector has; they fill feed.* of its reports. */
export const collectorParams = {
  name: z.string().nullable().default(null).describe("feed.name of the reports (IntelMQ falls back to the bot's name)"),
  accuracy: p.number().pipe(z.number().min(0).max(100)).default(100).describe("feed.accuracy of the reports"),
  code: z.string().nullable().default(null).describe("feed.code of the reports"),
  provider: z.string().nullable().default(null).describe("feed.provider of the reports"),
  documentation: z.string().nullable().default(null).describe("feed.documentation of the reports"),
};

/** Parameters every parser has. */
export const parserParams = {
  default_fields: z.record(z.string(), z.unknown()).nullable().default(null).describe("Fields added to every event (without overwrite)"),
  copy_collector_provided_fields: p.list().nullable().default(null).describe("Report fields copied into every event, e.g. extra.file_name"),
};

/** IntelMQ's HTTP parameters, shared by every bot that talks HTTP. */
export const httpParams = {
  http_proxy: z.string().nullable().default(null).describe("Proxy for http:// URLs (both proxies must be set)"),
  https_proxy: z.string().nullable().default(null).describe("Proxy for https:// URLs"),
  http_timeout_sec: z.union([p.number(), z.tuple([p.number(), p.number()])]).default(30).describe("Timeout in seconds, or [connect, read]"),
  http_timeout_max_tries: p.int().default(3).describe("Attempts on timeouts"),
  http_user_agent: z.string().default("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36").describe("User-Agent header"),
  http_verify_cert: z.union([p.bool(), z.string()]).default(true).describe("Verify TLS certificates; or a path to a CA bundle"),
  ssl_client_certificate: z.string().nullable().default(null).describe("Client certificate (PEM file) for TLS"),
  ssl_ca_certificate: z.string().nullable().default(null).describe("CA bundle (PEM file) to verify the server"),
  http_username: z.string().nullable().default(null).describe("Basic auth user"),
  http_password: p.secret(z.string().nullable().default(null).describe("Basic auth password")),
  http_header: p.secret(z.record(z.string(), z.string()).nullable().default(null).describe("Extra request headers (hidden in logs: they often carry API keys)")),
};
