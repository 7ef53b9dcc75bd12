// SPDX-License-Identifier: AGPL-3.0-only
/** What intelmqctl reads from runtime.yaml and the bot registry: groups, queues, the bot catalogue. */
import type { z } from "zod";
import { effectiveParams, sourceQueueOf, type BotEntry, type RuntimeConfig } from "../shared/config/index.js";
import { normaliseDestinationQueues, type BotDefinition } from "../shared/runtime/index.js";
import { hasModule, knownModules, loadModule } from "./registry.js";

/** IntelMQ's --group values and the group names of runtime.yaml. */
export const BOT_GROUP = { collectors: "Collector", parsers: "Parser", experts: "Expert", outputs: "Output" } as const;
export type GroupName = keyof typeof BOT_GROUP;
export type BotGroup = (typeof BOT_GROUP)[GroupName];

const KIND_GROUP: Record<string, BotGroup> = { collector: "Collector", parser: "Parser", expert: "Expert", output: "Output" };

/** The group of a module by IntelMQ's naming (intelmq.bots.<kind>s.<...>); null when the name says nothing. */
export function groupOfModule(module: string): BotGroup | null {
  const m = /(?:^|\.)bots\.(collectors|parsers|experts|outputs)\./.exec(module);
  return m ? BOT_GROUP[m[1] as GroupName] : null;
}

/** The group of a configured bot: its `group` key, else what its module name says. */
export function groupOf(bot: BotEntry): BotGroup | null {
  const g = bot.group ? Object.values(BOT_GROUP).find((x) => x.toLowerCase() === bot.group!.toLowerCase()) : undefined;
  return g ?? groupOfModule(bot.module);
}

/** Bot ids of runtime.yaml, optionally of one group, in file order. */
export function botIds(config: RuntimeConfig, group?: GroupName): string[] {
  const ids = Object.keys(config.bots);
  if (!group) return ids;
  return ids.filter((id) => groupOf(config.bots[id]!) === BOT_GROUP[group]);
}

/** A bot's queues as IntelMQ derives them: source (none for collectors) and destinations (all paths, flattened). */
export interface BotQueues {
  source: string | null;
  destinations: string[];
}

/** A bot's destination queues by path (`_default` and named paths), as the bot sends. */
export function destinationPaths(config: RuntimeConfig, id: string): Record<string, string[]> {
  const dq = normaliseDestinationQueues(effectiveParams(config, id, {}).destination_queues);
  const out: Record<string, string[]> = {};
  if (dq && typeof dq === "object") {
    for (const [path, list] of Object.entries(dq as Record<string, unknown>)) {
      if (Array.isArray(list)) out[path] = list.filter((q): q is string => typeof q === "string");
    }
  }
  return out;
}

/** The configured queues of one bot. */
export function queuesOf(config: RuntimeConfig, id: string): BotQueues {
  const destinations: string[] = [];
  for (const list of Object.values(destinationPaths(config, id))) {
    for (const q of list) if (!destinations.includes(q)) destinations.push(q);
  }
  return { source: sourceQueueOf(config, id), destinations };
}

/** Every queue runtime.yaml names (sources and destinations). */
export function configuredQueues(config: RuntimeConfig): Set<string> {
  const out = new Set<string>();
  for (const id of Object.keys(config.bots)) {
    const q = queuesOf(config, id);
    if (q.source) out.add(q.source);
    for (const d of q.destinations) out.add(d);
  }
  return out;
}

/** The object schema's shape, looking through wrappers; null when the schema is not an object. */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | null {
  let s: unknown = schema;
  for (let i = 0; i < 12 && s; i++) {
    const def = (s as { def?: { type?: string; innerType?: unknown; in?: unknown } }).def;
    if (!def) return null;
    if (def.type === "object") return (s as { shape: Record<string, z.ZodType> }).shape;
    if (def.type === "pipe") s = def.in;
    else if (def.innerType) s = def.innerType;
    else return null;
  }
  return null;
}

/** The default of every parameter of a bot's schema (null for those without a default). */
export function parameterDefaults(def: BotDefinition): Record<string, unknown> {
  const shape = shapeOf(def.params);
  const out: Record<string, unknown> = {};
  if (!shape) return out;
  for (const [k, s] of Object.entries(shape)) {
    const r = s.safeParse(undefined);
    out[k] = r.success && r.data !== undefined ? r.data : null;
  }
  return out;
}

/** A catalogue name of a bot: its folder name in title case ("generic_csv" -> "Generic Csv"). */
function displayName(def: BotDefinition): string {
  return def.name.split(/[_-]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(" ");
}

/** `list bots`: every installed bot by group, IntelMQ's shape. */
export async function installedBots(): Promise<Record<BotGroup, Record<string, { module: string; description: string; parameters: Record<string, unknown> }>>> {
  const out = { Collector: {}, Parser: {}, Expert: {}, Output: {} } as Record<BotGroup, Record<string, { module: string; description: string; parameters: Record<string, unknown> }>>;
  for (const module of knownModules()) {
    if (!hasModule(module)) continue;
    const def = await loadModule(module);
    const group = KIND_GROUP[def.kind] ?? groupOfModule(module) ?? "Expert";
    let name = displayName(def);
    // Two modules of one bot (aliases) keep apart by module name.
    if (out[group][name] && out[group][name]!.module !== module) name = `${name} (${module})`;
    out[group][name] = { module, description: def.description, parameters: parameterDefaults(def) };
  }
  return out;
}
