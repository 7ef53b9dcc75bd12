// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's runtime parameters (owned by the runtime, not by bots) and the split of a bot's effective
 * parameters into runtime, bot and unknown ones.
 */
import { z } from "zod";
import { ConfigurationError } from "../errors/index.js";
import { IGNORED_SYSTEM_KEYS, SYSTEM_KEYS, isIntelmqGlobalKey, isOwnGlobalKey, secretKeys } from "../config/index.js";
import { p, collectorParams, httpParams, parserParams } from "./params.js";
import type { BotDefinition, BotKind, RuntimeParams } from "./types.js";

/**
 * destination_queues as IntelMQ normalises it: a list means {_default: list}, a string is split on
 * whitespace (also inside a map), null means none.
 */
export function normaliseDestinationQueues(v: unknown): unknown {
  const split = (s: string): string[] => s.split(/\s+/).filter((x) => x !== "");
  if (v === null || v === undefined) return {};
  if (typeof v === "string") return { _default: split(v) };
  if (Array.isArray(v)) return { _default: v };
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = typeof x === "string" ? split(x) : x === null ? [] : x;
    }
    return out;
  }
  return v;
}

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;

/** IntelMQ's runtime parameters with IntelMQ's defaults; strings accepted for numbers and booleans. */
export const runtimeParamsSchema = z.object({
  error_procedure: z.enum(["pass", "stop"]).default("pass").describe("After the retries: pass (dump and go on) or stop (exit 1)"),
  error_max_retries: p.int().pipe(z.number().min(0)).default(3).describe("Retries of a failing message"),
  error_retry_delay: p.number().pipe(z.number().min(0)).default(15).describe("Seconds between retries"),
  error_dump_message: p.bool().default(true).describe("Dump a message given up on"),
  error_log_message: p.bool().default(false).describe("Log a failing message at INFO"),
  error_log_exception: p.bool().default(true).describe("Log the stack of a failure (else one line)"),
  error_max_deliveries: p.int().pipe(z.number().min(1)).default(5)
    .describe("Ours: a message whose handling killed the bot's process or failed outside process() this many times is dumped with the reason"),
  rate_limit: p.number().pipe(z.number().min(0)).default(0).describe("Seconds to idle after each message (collectors: between rounds)"),
  run_mode: z.enum(["continuous", "scheduled"]).default("continuous").describe("scheduled: one run, then exit"),
  source_queue: z.string().nullable().default(null).describe("Input queue (default <bot-id>-queue)"),
  destination_queues: z.preprocess(normaliseDestinationQueues, z.record(z.string(), z.array(z.string())))
    .default({}).describe("Path -> queues; a list means {_default: list}"),
  load_balance: p.bool().default(false).describe("Send each message to one queue of its path, in turn"),
  log_processed_messages_count: p.int().pipe(z.number().min(1)).default(500).describe("Log the count every N sent messages"),
  log_processed_messages_seconds: p.number().pipe(z.number().min(0)).default(900).describe("... or every N seconds"),
  logging_level: z.preprocess((v) => (typeof v === "string" ? v.toUpperCase() : v), z.enum(LEVELS)).default("INFO").describe("Log level"),
  batch_size: p.int().pipe(z.number().min(1)).default(1000).describe("Events per envelope a bot sends (per-message cost, not bytes, limits a hop); envelopes over 768 KiB are split"),
  testing: p.bool().default(false).describe("Library mode / tests"),
});

/** Runtime parameters after defaults; source_queue is always set (default `<bot-id>-queue`). */
export type RuntimeParamsParsed = Omit<z.infer<typeof runtimeParamsSchema>, "source_queue"> & { source_queue: string };

/** The names of the runtime parameters. */
export const RUNTIME_KEYS: ReadonlySet<string> = new Set(Object.keys(runtimeParamsSchema.shape));

/**
 * True for keys that runtime.yaml's `global:` section or a bot entry may hold without a bot
 * declaring them: the entry's system keys, our global keys (global.ts), IntelMQ's global keys
 * and key families (logging_*, *_pipeline_*, statistics_*, http_*, redis_cache_*, ...), and the
 * parameter groups IntelMQ defines for every bot (feed accuracy, HTTP).
 */
export function isGlobalKey(key: string): boolean {
  return ENTRY_KEYS.has(key) || SHARED_GROUP_KEYS.has(key) || isOwnGlobalKey(key) || isIntelmqGlobalKey(key);
}

/** Feed parameters of collectors, as resolved by the runtime. */
export interface FeedParams { name: string | null; accuracy: number; code: string | null; provider: string | null; documentation: string | null }
/** Parser parameters, as resolved by the runtime. */
export interface ParserParams { default_fields: Record<string, unknown> | null; copy_collector_provided_fields: string[] | null }

/** A bot's effective parameters, split. */
export interface ResolvedParams<B = unknown> {
  runtime: RuntimeParams;
  /** Validated by the bot's own schema. */
  bot: B;
  /** Keys neither the runtime, the bot nor IntelMQ's global section knows (typos, old parameters). */
  unknown: string[];
  /** Collectors: feed.* parameters. */
  feed: FeedParams;
  /** Parsers: default_fields, copy_collector_provided_fields. */
  parser: ParserParams;
}

const ENTRY_KEYS: ReadonlySet<string> = new Set([...SYSTEM_KEYS, ...IGNORED_SYSTEM_KEYS]);
// accuracy is IntelMQ's global feed parameter; the HTTP ones are its HttpMixin's.
const SHARED_GROUP_KEYS: ReadonlySet<string> = new Set(["accuracy", ...Object.keys(httpParams)]);
const SHARED_SECRET_KEYS: readonly string[] = secretKeys(z.object(httpParams));

/**
 * The parameters whose values a bot hides when it logs its parameters: the secrets of its own
 * schema and those of the shared groups (http_password, http_header). runtime.yaml's `global:`
 * gives the shared ones to every bot, also to bots that do not declare them.
 */
export function loggedSecretKeys(def: Pick<BotDefinition<BotKind, z.ZodType>, "params">): string[] {
  return [...new Set([...secretKeys(def.params), ...SHARED_SECRET_KEYS])];
}

const feedSchema = z.object(collectorParams);
const parserSchema = z.object(parserParams);

/** The keys of an object schema, looking through default/optional/pipe wrappers; null when not an object or open. */
function objectKeys(schema: z.ZodType): { keys: Set<string>; open: boolean } | null {
  let s: unknown = schema;
  for (let i = 0; i < 12 && s; i++) {
    const def = (s as { def?: { type?: string; innerType?: unknown; in?: unknown; catchall?: { def?: { type?: string } } } }).def;
    if (!def) return null;
    if (def.type === "object") {
      const shape = (s as { shape: Record<string, unknown> }).shape;
      const ca = def.catchall?.def?.type;
      return { keys: new Set(Object.keys(shape)), open: ca !== undefined && ca !== "never" };
    }
    if (def.type === "pipe") s = def.in;
    else if (def.innerType) s = def.innerType;
    else return null;
  }
  return null;
}

function configError(botId: string, issues: readonly z.core.$ZodIssue[], prefix = ""): ConfigurationError {
  const what = issues.map((i) => {
    const key = i.path.length ? i.path.map(String).join(".") : "keys" in i && Array.isArray(i.keys) ? i.keys.join(", ") : "";
    return `parameter ${JSON.stringify(prefix + key)}: ${i.message}`;
  }).join("; ");
  return new ConfigurationError(`bot ${botId}`, what);
}

function pick(raw: Record<string, unknown>, keys: Iterable<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in raw && raw[k] !== undefined) out[k] = raw[k];
  return out;
}

/**
 * Split a bot's effective raw parameters (global + bot + environment) into runtime parameters, the
 * bot's own (validated by `def.params`) and unknown keys. A validation failure becomes a
 * ConfigurationError naming the bot id, the parameter and what is wrong.
 */
export function resolveParams<S extends z.ZodType>(
  def: Pick<BotDefinition<BotKind, S>, "params" | "kind" | "runtimeDefaults">, botId: string, raw: Record<string, unknown>,
): ResolvedParams<z.infer<S>> {
  const rt = runtimeParamsSchema.safeParse({ ...def.runtimeDefaults, ...pick(raw, RUNTIME_KEYS) });
  if (!rt.success) throw configError(botId, rt.error.issues);
  const runtime: RuntimeParams = { ...rt.data, source_queue: rt.data.source_queue ?? `${botId}-queue` };

  const shape = objectKeys(def.params);
  const kindKeys = new Set<string>(def.kind === "collector" ? Object.keys(collectorParams) : def.kind === "parser" ? Object.keys(parserParams) : []);
  let botInput: Record<string, unknown>;
  if (shape && !shape.open) {
    botInput = pick(raw, shape.keys);
  } else {
    botInput = {};
    for (const [k, v] of Object.entries(raw)) {
      if (RUNTIME_KEYS.has(k) || (isGlobalKey(k) && !(shape?.keys.has(k))) || v === undefined) continue;
      botInput[k] = v;
    }
  }
  const b = def.params.safeParse(botInput);
  if (!b.success) throw configError(botId, b.error.issues);

  // A collector's own defaults of feed fields (IntelMQ's class attributes, e.g. the API collector's name "API") apply too.
  const ownFeed = def.kind === "collector" && b.data && typeof b.data === "object" ? pick(b.data as Record<string, unknown>, Object.keys(collectorParams)) : {};
  const feedR = feedSchema.safeParse(def.kind === "collector" ? { ...ownFeed, ...pick(raw, Object.keys(collectorParams)) } : {});
  if (!feedR.success) throw configError(botId, feedR.error.issues);
  const parserR = parserSchema.safeParse(def.kind === "parser" ? pick(raw, Object.keys(parserParams)) : {});
  if (!parserR.success) throw configError(botId, parserR.error.issues);

  const unknown = shape && !shape.open
    ? Object.keys(raw).filter((k) => !RUNTIME_KEYS.has(k) && !shape.keys.has(k) && !kindKeys.has(k) && !isGlobalKey(k))
    : [];
  return { runtime, bot: b.data as z.infer<S>, unknown, feed: feedR.data, parser: parserR.data };
}
