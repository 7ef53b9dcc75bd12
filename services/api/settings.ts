// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The API's settings: intelmq-api's api-config.json ($INTELMQ_API_CONFIG) if there is one, then
 * our keys under runtime.yaml's `global` (api_listen, api_session_duration, api_allowed_path,
 * api_allow_origins), then INTELMQ_API_LISTEN.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { globalSettings, type IntelmqPaths, type RuntimeConfig } from "../../shared/config/index.js";
import { ConfigurationError } from "../../shared/errors/index.js";

export interface ApiSettings {
  host: string;
  port: number;
  sessionDurationS: number;
  allowedPath: string;
  allowOrigins: string[];
}

export const DEFAULT_LISTEN = "127.0.0.1:8080";

/** "host:port", ":port" or "port" (host 127.0.0.1); "[::1]:8080" for IPv6. */
export function parseListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:[\]]*):(\d+)$/.exec(t) ?? /^()(\d+)$/.exec(t);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigurationError("api_listen", `not an address to listen on: ${JSON.stringify(text)} (host:port)`);
  }
  return { host: m[1] || "127.0.0.1", port };
}

/** The settings for a root and its runtime configuration. */
export function apiSettings(paths: IntelmqPaths, config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): ApiSettings {
  let file: Record<string, unknown> = {};
  const f = env.INTELMQ_API_CONFIG;
  if (f) {
    if (!existsSync(f)) throw new ConfigurationError("INTELMQ_API_CONFIG", `${f} does not exist`);
    file = JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;
  }
  const g = globalSettings(config.global);
  const listen = parseListen(env.INTELMQ_API_LISTEN ?? g.api_listen ?? (typeof file.listen === "string" ? file.listen : DEFAULT_LISTEN));
  const allowed = g.api_allowed_path ?? (typeof file.allowed_path === "string" ? file.allowed_path : join(paths.root, "var", "lib", "bots"));
  const origins = g.api_allow_origins ?? (Array.isArray(file.allow_origins) ? file.allow_origins.map(String) : ["*"]);
  return {
    ...listen,
    sessionDurationS: g.api_session_duration ?? (typeof file.session_duration === "number" ? file.session_duration : 86400),
    allowedPath: isAbsolute(allowed) ? allowed : join(paths.root, allowed),
    allowOrigins: origins,
  };
}
