// SPDX-License-Identifier: AGPL-3.0-only
/**
 * etc/runtime.yaml in IntelMQ 3's format: `global:` plus one entry per bot id. Our additions
 * (NATS and queue settings under `global`, `instances` per bot) are optional, so an IntelMQ
 * file loads unchanged. Writing it back (keeping comments and layout) is in runtime-config-write.ts.
 */
import { readFileSync } from "node:fs";
import { parseDocument, type Document } from "yaml";
import { z } from "zod";
import { ConfigurationError } from "../errors/index.js";
import { p } from "./coerce.js";
import { isOwnGlobalKey, ownGlobalSchema, queueLimitsSchema } from "./global.js";
import { intelmqPaths } from "./paths.js";

/** IntelMQ's bot id syntax. */
export const BOT_ID_RE = /^[0-9a-zA-Z-]+$/;
/** Keys of a bot entry that IntelMQ copies onto the bot (when truthy). */
export const SYSTEM_KEYS = ["enabled", "run_mode", "group", "description", "module", "name"] as const;
/** Keys of a bot entry that are neither parameters nor warned about (`instances` is ours). */
export const IGNORED_SYSTEM_KEYS = ["bot_id", "groupname", "parameters", "instances"] as const;
/** INTELMQ_* variables that configure the tools, never a bot parameter. */
const NON_PARAMETER_ENV = new Set([
  "INTELMQ_ROOT_DIR", "INTELMQ_PATHS_NO_OPT", "INTELMQ_PATHS_OPT", "INTELMQ_CONFORMANCE_DIR",
  "INTELMQ_CASES_CMD", "INTELMQ_MANAGER_CONTROLLER_CMD",
  // The control plane's: the host name instances report, the process a bot must not outlive.
  "INTELMQ_HOST", "INTELMQ_PARENT_PID",
]);

export type RunMode = "continuous" | "scheduled";

/** One bot of runtime.yaml. */
export interface BotEntry {
  /** The bot id (the key in runtime.yaml). */
  readonly id: string;
  /** IntelMQ module name, e.g. intelmq.bots.parsers.generic.parser_csv. */
  module: string;
  name: string | null;
  group: string | null;
  description: string | null;
  enabled: boolean;
  run_mode: RunMode;
  /** Processes to run of this bot id (ours; default 1). */
  instances: number;
  /** The bot's parameters, exactly as written (destination_queues included). */
  parameters: Record<string, unknown>;
  /** Other keys of the entry: IntelMQ ignores them with a warning; kept when saving. */
  extra: Record<string, unknown>;
}

/** A warning found while loading (e.g. an unknown system key). */
export interface ConfigWarning {
  botId: string | null;
  message: string;
}

/** A loaded runtime.yaml. */
export interface RuntimeConfig {
  /** The file it came from (null when built in memory). */
  readonly file: string | null;
  /** The `global` section, as written (IntelMQ's defaults for all bots plus our settings). */
  global: Record<string, unknown>;
  /** Bots by id, in file order. */
  bots: Record<string, BotEntry>;
  readonly warnings: ConfigWarning[];
}

// The parsed document, kept so that saving keeps comments and layout.
const documents = new WeakMap<RuntimeConfig, Document>();
/** The document `config` was read from or last written as (runtime-config-write.ts keeps its comments). */
export function documentOf(config: RuntimeConfig): Document | undefined {
  return documents.get(config);
}
/** Remember the document `config` now is. */
export function rememberDocument(config: RuntimeConfig, doc: Document): void {
  documents.set(config, doc);
}

// Our keys are validated here (global.ts declares them); IntelMQ's and the bots' are checked
// elsewhere (intelmqctl check, each bot's schema at start).
const globalSchema = ownGlobalSchema.catchall(z.unknown());

const botSchema = z.object({
  module: z.string({ error: "is required (the IntelMQ module name)" }).min(1, "must not be empty"),
  name: p.text().nullish(),
  group: p.text().nullish(),
  description: p.text().nullish(),
  enabled: p.bool().nullish(),
  run_mode: z.enum(["continuous", "scheduled"]).nullish(),
  instances: p.int().pipe(z.number().int().min(1)).nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
}).catchall(z.unknown());

function issueText(e: z.ZodError): { key: string; message: string } {
  const i = e.issues[0]!;
  return { key: i.path.map(String).join("."), message: i.message };
}

/** ConfigurationError naming the file and what is wrong. */
export function fail(file: string, argument: string, cause?: unknown): never {
  throw new ConfigurationError(file, argument, cause === undefined ? undefined : { cause });
}

/** Validate a parsed runtime.yaml document (a plain object). `file` names the source in errors. */
export function runtimeConfigFromObject(data: unknown, file: string | null = null): RuntimeConfig {
  const where = file ?? "runtime configuration";
  if (data === null || data === undefined) data = {};
  if (typeof data !== "object" || Array.isArray(data)) fail(where, "the top level must be a mapping of bot ids (and global)");
  const warnings: ConfigWarning[] = [];
  let global: Record<string, unknown> = {};
  const bots: Record<string, BotEntry> = {};
  for (const [id, value] of Object.entries(data as Record<string, unknown>)) {
    if (id === "global") {
      const g = globalSchema.safeParse(value ?? {});
      if (!g.success) {
        const { key, message } = issueText(g.error);
        fail(where, key ? `global: key ${JSON.stringify(key)}: ${message}` : `global: ${message}`);
      }
      global = { ...(value as Record<string, unknown> | null ?? {}) };
      continue;
    }
    if (!BOT_ID_RE.test(id)) fail(where, `bot ${JSON.stringify(id)}: invalid bot id, allowed are letters, digits and '-' ([0-9a-zA-Z-]+)`);
    if (value === null || typeof value !== "object" || Array.isArray(value)) fail(where, `bot ${JSON.stringify(id)}: the entry must be a mapping`);
    const r = botSchema.safeParse(value);
    if (!r.success) {
      const { key, message } = issueText(r.error);
      fail(where, `bot ${JSON.stringify(id)}: key ${JSON.stringify(key || "?")}: ${message}`);
    }
    const v = r.data;
    // The limits of the bot's source queue (ours, beside its parameters) refuse the file as the global ones do.
    const limits = queueLimitsSchema.safeParse(v.parameters ?? {});
    if (!limits.success) {
      const { key, message } = issueText(limits.error);
      fail(where, `bot ${JSON.stringify(id)}: parameter ${JSON.stringify(key)}: ${message}`);
    }
    const extra: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value as Record<string, unknown>)) {
      if ((SYSTEM_KEYS as readonly string[]).includes(k) || (IGNORED_SYSTEM_KEYS as readonly string[]).includes(k)) continue;
      extra[k] = x;
      warnings.push({ botId: id, message: `bot ${JSON.stringify(id)}: ignoring disallowed system parameter ${JSON.stringify(k)} (bot parameters belong under "parameters")` });
    }
    bots[id] = {
      id,
      module: v.module,
      name: v.name ?? null,
      group: v.group ?? null,
      description: v.description ?? null,
      enabled: v.enabled ?? true,
      run_mode: v.run_mode ?? "continuous",
      instances: v.instances ?? 1,
      parameters: { ...(v.parameters ?? {}) },
      extra,
    };
  }
  return { file, global, bots, warnings };
}

/** Parse runtime.yaml text. */
export function parseRuntimeConfig(text: string, file: string | null = null): RuntimeConfig {
  const where = file ?? "runtime configuration";
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) fail(where, `invalid YAML: ${doc.errors[0]!.message}`, doc.errors[0]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    fail(where, `invalid YAML: ${(err as Error).message}`, err);
  }
  const cfg = runtimeConfigFromObject(data, file);
  documents.set(cfg, doc);
  return cfg;
}

/**
 * Load etc/runtime.yaml (default: under INTELMQ_ROOT_DIR). Throws ConfigurationError naming the file,
 * the bot and the key. With `missingOk`, a missing file gives an empty configuration.
 */
export function loadRuntimeConfig(file?: string, opts: { missingOk?: boolean; env?: NodeJS.ProcessEnv } = {}): RuntimeConfig {
  const path = file ?? intelmqPaths(opts.env).runtimeConfFile;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (opts.missingOk && (err as NodeJS.ErrnoException).code === "ENOENT") return { file: path, global: {}, bots: {}, warnings: [] };
    fail(path, `cannot read the file: ${(err as Error).message}`, err);
  }
  return parseRuntimeConfig(text, path);
}

/** The configuration as a plain object in runtime.yaml's shape. */
export function runtimeConfigToObject(config: RuntimeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Object.keys(config.global).length) out.global = config.global;
  for (const [id, b] of Object.entries(config.bots)) {
    if (!BOT_ID_RE.test(id)) fail(config.file ?? "runtime configuration", `bot ${JSON.stringify(id)}: invalid bot id`);
    const e: Record<string, unknown> = {};
    if (b.name != null) e.name = b.name;
    if (b.group != null) e.group = b.group;
    e.module = b.module;
    if (b.description != null) e.description = b.description;
    e.enabled = b.enabled;
    e.run_mode = b.run_mode;
    if (b.instances !== 1) e.instances = b.instances;
    Object.assign(e, b.extra);
    e.parameters = b.parameters;
    out[id] = e;
  }
  return out;
}

/** IntelMQ's conversion of INTELMQ_* values: "True"/"False" -> boolean, digits -> integer. */
export function convertEnvValue(value: string): string | number | boolean {
  if (value === "True") return true;
  if (value === "False") return false;
  if (/^[0-9]+$/.test(value)) return Number.parseInt(value, 10);
  return value;
}

/** Parameters given by INTELMQ_<NAME> environment variables (name lower-cased). */
export function envParams(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("INTELMQ_") || v === undefined || NON_PARAMETER_ENV.has(k) || k.startsWith("INTELMQ_TEST_")) continue;
    const name = k.slice("INTELMQ_".length).toLowerCase();
    if (name === "") continue;
    out[name] = convertEnvValue(v);
  }
  return out;
}

/** The entry of one bot; ConfigurationError when runtime.yaml has none. */
export function getBot(config: RuntimeConfig, botId: string): BotEntry {
  const b = Object.hasOwn(config.bots, botId) ? config.bots[botId] : undefined;
  if (!b) {
    const none = Object.keys(config.bots).length === 0 ? "; the file has no bots" : "";
    fail(config.file ?? "runtime configuration", `bot ${JSON.stringify(botId)} is not configured (no such bot id${none})`);
  }
  return b;
}

/**
 * A bot's effective parameters with IntelMQ's precedence (lowest first): `global` (without our
 * NATS/queue settings) < system keys with a truthy value (enabled, run_mode, group, description,
 * module, name) < `parameters` < INTELMQ_<NAME> environment variables. Values pass through
 * unchanged (destination_queues is normalised by the runtime); schema defaults come later.
 */
export function effectiveParams(config: RuntimeConfig, botId: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const bot = getBot(config, botId);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config.global)) {
    if (!isOwnGlobalKey(k)) out[k] = v;
  }
  for (const k of SYSTEM_KEYS) {
    const v = bot[k];
    if (v) out[k] = v;
  }
  Object.assign(out, bot.parameters);
  Object.assign(out, envParams(env));
  return out;
}
