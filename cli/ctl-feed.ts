// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The feed catalogue (etc/feeds.yaml, IntelMQ's feeds.yaml with our corrections): which feeds can
 * run here, and `intelmqctl feed add`, which writes a feed's collector and parser into runtime.yaml.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT, saveRuntimeConfig, BOT_ID_RE, type BotEntry, type RuntimeConfig } from "../shared/config/index.js";
import { ConfigurationError, errorMessage } from "../shared/errors/index.js";
import { resolveParams } from "../shared/runtime/index.js";
import { hasModule, loadModule } from "./registry.js";
import { groupOf, queuesOf } from "./ctl-config.js";

/** A wrong name or argument given to `feed add` (intelmqctl exits 2, as for usage errors). */
export class FeedUsageError extends Error {
  override readonly name = "FeedUsageError";
}

interface FeedBot { module: string; parameters: Record<string, unknown> }
export interface Feed {
  provider: string;
  feed: string;
  description: string;
  public: boolean;
  documentation: string | null;
  collector: FeedBot | null;
  parser: FeedBot | null;
}

export type FeedStatus = "runnable" | "needs an account" | "needs a collector we lack" | "needs a parser we lack";
export interface FeedRow { provider: string; feed: string; status: FeedStatus; collector: string | null; parser: string | null; needs: string[] }

/** The catalogue of the installation (etc/feeds.yaml under INTELMQ_ROOT_DIR), else the project's own. */
export function loadCatalogue(feedsFile: string): Feed[] {
  const file = existsSync(feedsFile) ? feedsFile : join(PROJECT_ROOT, "etc", "feeds.yaml");
  const doc = parse(readFileSync(file, "utf8")) as { providers?: Record<string, Record<string, Record<string, unknown>> | null> };
  const out: Feed[] = [];
  for (const [provider, feeds] of Object.entries(doc.providers ?? {})) {
    for (const [feed, spec] of Object.entries(feeds ?? {})) {
      const bots = (spec.bots ?? {}) as Record<string, { module?: string; parameters?: Record<string, unknown> | null } | null>;
      const bot = (role: string): FeedBot | null => {
        const b = bots[role];
        return b?.module ? { module: b.module, parameters: { ...(b.parameters ?? {}) } } : null;
      };
      out.push({
        provider, feed, description: String(spec.description ?? ""), public: spec.public !== false,
        documentation: typeof spec.documentation === "string" ? spec.documentation : null,
        collector: bot("collector"), parser: bot("parser"),
      });
    }
  }
  return out;
}

// __FEED__ and __PROVIDER__ are filled in by us; __IGNORE__ is a real value (a column to skip).
const FILLED = new Set(["__FEED__", "__PROVIDER__", "__IGNORE__"]);
const PLACEHOLDER_RE = /__[A-Z]+__|<[^<>]{1,60}>|\{\{[^{}]*\}\}/g;

/** Parameters whose catalogue value is a placeholder the operator must replace (e.g. an API key). */
export function placeholders(params: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    const text = typeof v === "string" ? v : Array.isArray(v) || (v && typeof v === "object") ? JSON.stringify(v) : "";
    if ([...text.matchAll(PLACEHOLDER_RE)].some((m) => !FILLED.has(m[0]))) out.push(k);
  }
  return out;
}

export function feedRows(feeds: Feed[]): FeedRow[] {
  return feeds.map((f) => {
    const needs = [...placeholders(f.collector?.parameters ?? {}).map((k) => `collector ${k}`), ...placeholders(f.parser?.parameters ?? {}).map((k) => `parser ${k}`)];
    let status: FeedStatus;
    if (!f.collector || !hasModule(f.collector.module)) status = "needs a collector we lack";
    else if (!f.parser || !hasModule(f.parser.module)) status = "needs a parser we lack";
    else if (!f.public || needs.length) status = "needs an account";
    else status = "runnable";
    return { provider: f.provider, feed: f.feed, status, collector: f.collector?.module ?? null, parser: f.parser?.module ?? null, needs };
  });
}

function fill(v: unknown, feed: Feed): unknown {
  if (typeof v === "string") return v.replaceAll("__FEED__", feed.feed).replaceAll("__PROVIDER__", feed.provider);
  if (Array.isArray(v)) return v.map((x) => fill(x, feed));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, feed)]));
  return v;
}

/** "Abuse.ch" + "Feodo Tracker" -> "abuse-ch-feodo-tracker". */
export function feedSlug(provider: string, feed: string): string {
  return `${provider}-${feed}`.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
}

/** A --param value: JSON where it parses (numbers, booleans, lists), else the text. */
function paramValue(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

export interface FeedAddOptions {
  /** Bot id prefix: `<id>-collector`, `<id>-parser`. */
  id?: string;
  /** `k=v`, `collector.k=v` or `parser.k=v`. */
  params?: string[];
  /** The parser's destination queue. */
  to?: string;
}

/**
 * Where a new parser sends its events: the queue the configured parsers send to (the first expert
 * of the pipeline), else the first expert's queue; null when runtime.yaml has neither.
 */
export function defaultParserDestination(config: RuntimeConfig): string | null {
  const counts = new Map<string, number>();
  for (const id of Object.keys(config.bots)) {
    if (groupOf(config.bots[id]!) !== "Parser") continue;
    for (const q of queuesOf(config, id).destinations) counts.set(q, (counts.get(q) ?? 0) + 1);
  }
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  if (best) return best[0];
  const expert = Object.keys(config.bots).find((id) => groupOf(config.bots[id]!) === "Expert");
  return expert ? (queuesOf(config, expert).source ?? `${expert}-queue`) : null;
}

/** Add a catalogue feed's collector and parser to runtime.yaml; returns the new bot ids. */
export async function addFeed(config: RuntimeConfig, feeds: Feed[], provider: string, name: string, opts: FeedAddOptions = {}): Promise<{ collector: string; parser: string; destination: string | null; file: string }> {
  const lc = (s: string) => s.toLowerCase();
  const feed = feeds.find((f) => lc(f.provider) === lc(provider) && lc(f.feed) === lc(name));
  if (!feed) {
    const ofProvider = feeds.filter((f) => lc(f.provider) === lc(provider)).map((f) => f.feed);
    throw new FeedUsageError(ofProvider.length
      ? `provider ${JSON.stringify(provider)} has no feed ${JSON.stringify(name)}; its feeds: ${ofProvider.join(", ")}`
      : `no provider ${JSON.stringify(provider)} in the feed catalogue (intelmqctl feed list shows them)`);
  }
  for (const [role, bot] of [["collector", feed.collector], ["parser", feed.parser]] as const) {
    if (!bot) throw new ConfigurationError("feed", `${feed.provider} / ${feed.feed} has no ${role} in the catalogue`);
    if (!hasModule(bot.module)) throw new ConfigurationError("feed", `${feed.provider} / ${feed.feed} needs ${bot.module}, which is not implemented here`);
  }
  const prefix = opts.id ?? feedSlug(feed.provider, feed.feed);
  const ids = { collector: `${prefix}-collector`, parser: `${prefix}-parser` };
  for (const id of Object.values(ids)) {
    if (!BOT_ID_RE.test(id)) throw new FeedUsageError(`${JSON.stringify(id)} is not a valid bot id (letters, digits, - and _)`);
    if (Object.hasOwn(config.bots, id)) throw new FeedUsageError(`bot ${JSON.stringify(id)} exists already in runtime.yaml (choose another --id)`);
  }
  const params = {
    collector: fill(feed.collector!.parameters, feed) as Record<string, unknown>,
    parser: fill(feed.parser!.parameters, feed) as Record<string, unknown>,
  };
  const defs = { collector: await loadModule(feed.collector!.module), parser: await loadModule(feed.parser!.module) };
  for (const kv of opts.params ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new FeedUsageError(`--param ${JSON.stringify(kv)}: expected key=value`);
    let key = kv.slice(0, eq);
    const value = paramValue(kv.slice(eq + 1));
    let role: "collector" | "parser" | null = null;
    const m = /^(collector|parser)\.(.+)$/.exec(key);
    if (m) { role = m[1] as "collector" | "parser"; key = m[2]!; }
    // Unqualified: the bot that already has the key, else the one whose schema knows it (collector first).
    role ??= key in params.collector ? "collector" : key in params.parser ? "parser"
      : knows(defs.collector.params, key) ? "collector" : knows(defs.parser.params, key) ? "parser" : "collector";
    params[role][key] = value;
  }
  const destination = opts.to ?? defaultParserDestination(config);
  params.collector.destination_queues = { _default: [`${ids.parser}-queue`] };
  if (destination) params.parser.destination_queues = { _default: [destination] };
  const missing = [...placeholders(params.collector).map((k) => `collector.${k}`), ...placeholders(params.parser).map((k) => `parser.${k}`)];
  if (missing.length) {
    throw new ConfigurationError("feed", `${feed.provider} / ${feed.feed} needs values of yours for ${missing.join(", ")}: give them with --param ${missing[0]}=...`);
  }
  for (const role of ["collector", "parser"] as const) {
    try {
      const r = resolveParams(defs[role], ids[role], params[role]);
      if (r.unknown.length) throw new ConfigurationError("parameters", `unknown parameters ${r.unknown.join(", ")}`);
    } catch (err) {
      throw new ConfigurationError("feed", `the ${role} of ${feed.provider} / ${feed.feed} (${ids[role]}): ${errorMessage(err)}`);
    }
  }
  const entry = (id: string, role: "collector" | "parser", p: Record<string, unknown>): BotEntry => ({
    id, module: feed[role]!.module, name: `${feed.provider} ${feed.feed}`, group: role === "collector" ? "Collector" : "Parser",
    description: role === "collector" ? feed.description.split("\n")[0]!.slice(0, 200) : `Parses ${feed.provider} ${feed.feed}`,
    enabled: true, run_mode: "continuous", instances: 1, parameters: p, extra: {},
  });
  config.bots[ids.collector] = entry(ids.collector, "collector", params.collector);
  config.bots[ids.parser] = entry(ids.parser, "parser", params.parser);
  const file = saveRuntimeConfig(config);
  return { ...ids, destination, file };
}

function knows(schema: unknown, key: string): boolean {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return !!shape && Object.hasOwn(shape, key);
}
