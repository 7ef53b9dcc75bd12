// SPDX-License-Identifier: AGPL-3.0-only
/** The process's pino logger: JSON lines on stderr, errors under `err`, secrets hidden as IntelMQ does. */
import { pino, type DestinationStream, type Logger } from "pino";

/** What IntelMQ writes instead of a secret parameter. */
export const HIDDEN = "HIDDEN";

const SECRET = /password|token/i;

/** IntelMQ's logging_level names (and pino's) to pino levels. */
export function pinoLevel(level: string | undefined): pino.LevelWithSilent {
  switch ((level ?? "INFO").toUpperCase()) {
    case "DEBUG": return "debug";
    case "TRACE": return "trace";
    case "WARNING": case "WARN": return "warn";
    case "ERROR": return "error";
    case "CRITICAL": case "FATAL": return "fatal";
    case "SILENT": return "silent";
    default: return "info";
  }
}

/**
 * A copy of a parameter object (nested objects and arrays too) with the value of every key that
 * contains "password" or "token", and of the `secret` keys (a bot's parameters marked with
 * p.secret()), replaced by "HIDDEN". pino's redact paths cannot match parts of key names, so
 * parameter objects go through this before they are logged.
 */
export function redactParams<T>(obj: T, secret: Iterable<string> = []): T {
  const marked = new Set(secret);
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8 || v === null || typeof v !== "object" || v instanceof Error) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = (SECRET.test(k) || (depth === 0 && marked.has(k))) && x !== null && x !== undefined ? HIDDEN : walk(x, depth + 1);
    }
    return out;
  };
  return walk(obj, 0) as T;
}

export interface LoggerOptions {
  /** Bound as `bot_id` on every line. */
  botId?: string;
  /** IntelMQ's logging_level (DEBUG, INFO, WARNING, ERROR, CRITICAL); default INFO. */
  level?: string;
  /** Where lines go; default stderr (fd 2). Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/**
 * Create the root logger of a process. Call once per process; bots get `root.child(...)`.
 * Keys that contain "password" or "token" are shown as HIDDEN at the top level of a log call
 * and one level down (e.g. `params.http_password`).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const root = pino(
    {
      level: pinoLevel(opts.level),
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["password", "token", "*.password", "*.token"], censor: HIDDEN },
      formatters: {
        level: (label) => ({ level: label }),
        // Partial key names (http_password, api_token) cannot be redact paths: sanitize what is logged.
        log: (o) => (hasSecretKey(o, 0) ? redactParams(o) : o),
      },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
  return opts.botId ? root.child({ bot_id: opts.botId }) : root;
}

function hasSecretKey(o: unknown, depth: number): boolean {
  if (depth > 3 || o === null || typeof o !== "object" || o instanceof Error) return false;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (SECRET.test(k)) return true;
    if (v !== null && typeof v === "object" && hasSecretKey(v, depth + 1)) return true;
  }
  return false;
}
