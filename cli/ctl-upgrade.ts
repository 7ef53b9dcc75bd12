// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl upgrade-config`: an IntelMQ configuration of any release since 1.0 (runtime.conf,
 * pipeline.conf and defaults.conf as JSON, or IntelMQ 3's runtime.yaml) becomes our runtime.yaml:
 * defaults.conf folds into `global`, pipeline.conf into each bot's destination_queues and
 * source_queue, IntelMQ's upgrade steps rename modules and parameters (upgrade-steps.ts), and every
 * bot is checked against our schemas. IntelMQ's files are read, never changed: an IntelMQ may keep
 * running on them while the migration goes on.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { BOT_ID_RE, PROJECT_ROOT, effectiveParams, runtimeConfigFromObject } from "../shared/config/index.js";
import { resolveParams } from "../shared/runtime/index.js";
import { errorMessage } from "../shared/errors/index.js";
import { hasModule, loadModule } from "./registry.js";
import { REMOVED_MODULES, upgradeBots, upgradeGlobal, type Params, type StepNote, type UpgradeBot, type Version } from "./upgrade-steps.js";

export type { StepNote, Version } from "./upgrade-steps.js";

/** An IntelMQ configuration as read from its folder. */
export interface IntelmqSource {
  /** "json": runtime.conf (+ pipeline.conf, defaults.conf) of IntelMQ 1 and 2; "yaml": IntelMQ 3's runtime.yaml. */
  layout: "json" | "yaml";
  files: string[];
  runtime: Record<string, unknown>;
  pipeline: Record<string, unknown> | null;
  defaults: Record<string, unknown> | null;
  /** IntelMQ's harmonization.conf of that folder, if it has one. */
  harmonization: HarmonizationTable | null;
  /** Other files of IntelMQ's folder that are not converted (BOTS). */
  skipped: string[];
}

/** A harmonization.conf: message types ("event", "report") to fields to their specification. */
export type HarmonizationTable = Record<string, Record<string, Record<string, unknown>>>;

function readObject(file: string): Record<string, unknown> {
  const text = readFileSync(file, "utf8");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // IntelMQ read its .conf files with a YAML loader in late 2.x; JSON is the usual content.
    v = parseYaml(text);
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`${file}: the top level must be a mapping`);
  return v as Record<string, unknown>;
}

/** Read IntelMQ's configuration files in `dir` (runtime.conf preferred over runtime.yaml). */
export function readIntelmqConfig(dir: string): IntelmqSource {
  const at = (name: string) => join(dir, name);
  const optional = (name: string) => (existsSync(at(name)) ? readObject(at(name)) : null);
  const files: string[] = [];
  const pipeline = optional("pipeline.conf");
  const defaults = optional("defaults.conf");
  const skipped = ["BOTS"].filter((f) => existsSync(at(f))).map(at);
  const harmonization = optional("harmonization.conf") as HarmonizationTable | null;
  if (pipeline) files.push(at("pipeline.conf"));
  if (defaults) files.push(at("defaults.conf"));
  if (harmonization) files.push(at("harmonization.conf"));
  if (existsSync(at("runtime.conf"))) return { layout: "json", files: [at("runtime.conf"), ...files], runtime: readObject(at("runtime.conf")), pipeline, defaults, harmonization, skipped };
  if (existsSync(at("runtime.yaml"))) return { layout: "yaml", files: [at("runtime.yaml"), ...files], runtime: readObject(at("runtime.yaml")), pipeline, defaults, harmonization, skipped };
  throw new Error(`${dir} holds neither runtime.conf (IntelMQ 1 and 2) nor runtime.yaml (IntelMQ 3)`);
}

/** The IntelMQ release a configuration comes from, as far as its layout tells (IntelMQ's -p overrides). */
export function detectVersion(src: IntelmqSource): Version {
  if (src.layout === "yaml" && !src.pipeline && !src.defaults) return [3, 0, 0];
  const g = { ...(src.defaults ?? {}), ...((src.runtime.global as Params | undefined) ?? {}) };
  // The pipeline brokers and statistics settings came with 2.0; 2.0.0 and 2.0.1 are taken as 2.0.2.
  if ("destination_pipeline_broker" in g || "statistics_database" in g) return [2, 0, 2];
  return [1, 0, 0];
}

export function parseVersion(text: string): Version {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new Error(`invalid version ${JSON.stringify(text)} (e.g. 2.3.3)`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** A bot whose module this installation does not have. */
export interface MissingBot { id: string; module: string; message: string }

export interface UpgradeResult {
  version: Version;
  /** runtime.yaml's content. */
  config: Record<string, unknown>;
  text: string;
  notes: StepNote[];
  missing: MissingBot[];
  /** Implemented bots whose parameters our schemas refuse. */
  invalid: { id: string; message: string }[];
  /** The installation's harmonization.conf brought up to date, when it had one. */
  harmonization: HarmonizationTable | null;
  harmonizationText: string | null;
}

/** IntelMQ's destination-queues (list, string or paths) as a mapping of path -> queues. */
function destinationQueues(v: unknown): Record<string, string[]> | null {
  const list = (x: unknown): string[] => (Array.isArray(x) ? x.map(String) : typeof x === "string" ? x.split(/\s+/).filter(Boolean) : []);
  if (Array.isArray(v) || typeof v === "string") return { _default: list(v) };
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, list(x)]));
  return null;
}

// Keys IntelMQ's tools wrote into runtime.conf that mean nothing to a bot (the Manager's bot_id, groupname).
const DROPPED_KEYS = new Set(["bot_id", "groupname"]);
const ENTRY_KEYS = ["name", "group", "module", "description", "enabled", "run_mode", "instances"] as const;

/** Convert an IntelMQ configuration into our runtime.yaml. */
export async function upgradeConfig(src: IntelmqSource, opts: { previous?: Version; header?: string; current?: HarmonizationTable } = {}): Promise<UpgradeResult> {
  const version = opts.previous ?? detectVersion(src);
  const notes: StepNote[] = [];
  const rtGlobal = src.runtime.global && typeof src.runtime.global === "object" ? (src.runtime.global as Params) : {};
  const global: Params = structuredClone({ ...(src.defaults ?? {}), ...rtGlobal });
  if (src.defaults) notes.push({ botId: null, kind: "changed", message: `defaults.conf folded into global (${Object.keys(src.defaults).length} keys)` });
  notes.push(...upgradeGlobal(global));
  for (const f of src.skipped) {
    notes.push({ botId: null, kind: "changed", message: `${f} is not used (IntelMQ 3 removed it; the bots installed here are in services/registry.gen.ts)` });
  }
  let harmonization: HarmonizationTable | null = null;
  if (src.harmonization) {
    const h = upgradeHarmonization(src.harmonization, opts.current ?? shippedHarmonization());
    harmonization = h.table;
    notes.push(...h.notes);
  }

  const bots: Record<string, UpgradeBot> = {};
  for (const [id, raw] of Object.entries(src.runtime)) {
    if (id === "global") continue;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      notes.push({ botId: id, kind: "action", message: "not a bot entry (not a mapping): left out" });
      continue;
    }
    if (!BOT_ID_RE.test(id)) {
      notes.push({ botId: id, kind: "action", message: "invalid bot id (allowed: letters, digits and '-'): left out, rename it" });
      continue;
    }
    const e = structuredClone(raw) as Params;
    const bot: UpgradeBot = { module: String(e.module ?? ""), parameters: (e.parameters && typeof e.parameters === "object" ? e.parameters : {}) as Params };
    for (const k of ENTRY_KEYS) if (k !== "module" && e[k] !== undefined && e[k] !== null) bot[k] = e[k];
    // IntelMQ 1.0 had neither; written out, as IntelMQ's tools do and intelmqctl check expects.
    bot.enabled ??= true;
    bot.run_mode ??= "continuous";
    for (const [k, v] of Object.entries(e)) {
      if ((ENTRY_KEYS as readonly string[]).includes(k) || k === "parameters" || DROPPED_KEYS.has(k)) continue;
      // Before IntelMQ 1.0 a bot's parameters stood beside its system keys.
      bot.parameters[k] ??= v;
      notes.push({ botId: id, kind: "changed", message: `key ${k} moved under parameters` });
    }
    const pipe = src.pipeline?.[id] as Params | undefined;
    if (pipe) {
      const dq = destinationQueues(pipe["destination-queues"]);
      if (dq) bot.parameters.destination_queues = dq;
      const sq = pipe["source-queue"];
      if (typeof sq === "string" && sq !== `${id}-queue`) bot.parameters.source_queue = sq;
    }
    bots[id] = bot;
  }
  if (src.pipeline) {
    notes.push({ botId: null, kind: "changed", message: "pipeline.conf folded into the bots' destination_queues and source_queue" });
    for (const id of Object.keys(src.pipeline)) {
      if (!bots[id]) notes.push({ botId: id, kind: "action", message: "pipeline.conf names this bot, runtime.conf does not: its queues are left out" });
    }
  }
  notes.push(...upgradeBots(bots, global, version));

  const config: Record<string, unknown> = { global };
  for (const [id, b] of Object.entries(bots)) {
    const { parameters, ...rest } = b;
    config[id] = { ...rest, parameters };
  }

  const missing: MissingBot[] = [];
  const invalid: { id: string; message: string }[] = [];
  let loaded: ReturnType<typeof runtimeConfigFromObject> | null = null;
  try {
    loaded = runtimeConfigFromObject(config);
  } catch (err) {
    invalid.push({ id: "(file)", message: errorMessage(err) });
  }
  for (const [id, b] of Object.entries(bots)) {
    if (!hasModule(b.module)) {
      const gone = REMOVED_MODULES[b.module];
      missing.push({
        id, module: b.module,
        message: gone ? `module ${b.module} was removed from IntelMQ in ${gone}; remove the bot`
          : b.module ? `module ${b.module} is not implemented by intelmq-nats yet; keep this bot on IntelMQ (bridge its queues, see README.md, Migration)`
            : "the entry has no module",
      });
      continue;
    }
    if (!loaded) continue;
    try {
      const def = await loadModule(b.module);
      resolveParams(def, id, effectiveParams(loaded, id, {}));
    } catch (err) {
      invalid.push({ id, message: errorMessage(err) });
    }
  }
  const header = opts.header ?? `# Converted from IntelMQ ${version.join(".")}'s configuration (${src.layout === "json" ? "runtime.conf, pipeline.conf, defaults.conf" : "runtime.yaml"}) by intelmqctl upgrade-config.\n`;
  const text = header + stringify(config, { lineWidth: 0, flowCollectionPadding: false });
  return { version, config, text, notes, missing, invalid, harmonization, harmonizationText: harmonization ? harmonizationText(harmonization) : null };
}

/** The harmonization.conf this installation ships (IntelMQ 3.3's): what an upgraded one is brought to. */
export function shippedHarmonization(): HarmonizationTable {
  return JSON.parse(readFileSync(join(PROJECT_ROOT, "etc", "harmonization.conf"), "utf8")) as HarmonizationTable;
}

/**
 * IntelMQ's harmonization upgrade: every field of the current harmonization is there with its
 * current type, regex and iregex; fields of the installation's own (custom fields, their
 * descriptions) are kept.
 */
export function upgradeHarmonization(installed: HarmonizationTable, current: HarmonizationTable): { table: HarmonizationTable; notes: StepNote[] } {
  const table = structuredClone(installed);
  const notes: StepNote[] = [];
  const note = (message: string) => notes.push({ botId: null, kind: "changed", message: `harmonization.conf: ${message}` });
  for (const [kind, fields] of Object.entries(current)) {
    const mine = table[kind];
    if (!mine || typeof mine !== "object") {
      table[kind] = structuredClone(fields);
      note(`the ${kind} fields added`);
      continue;
    }
    for (const [name, spec] of Object.entries(fields)) {
      const have = mine[name];
      if (!have || typeof have !== "object") {
        mine[name] = structuredClone(spec);
        note(`${kind} field ${name} added (${String(spec.type)})`);
        continue;
      }
      if (have.type !== spec.type) {
        note(`type of ${kind} field ${name} changed from ${String(have.type)} to ${String(spec.type)}`);
        have.type = spec.type;
      }
      for (const re of ["regex", "iregex"] as const) {
        if (spec[re] && spec[re] !== have[re]) {
          note(`${re} of ${kind} field ${name} updated`);
          have[re] = spec[re];
        }
      }
    }
  }
  for (const [kind, fields] of Object.entries(table)) {
    const custom = Object.keys(fields ?? {}).filter((name) => !current[kind]?.[name]);
    if (custom.length) note(`${kind} fields of this installation kept: ${custom.join(", ")}`);
  }
  return { table, notes };
}

/** A harmonization.conf as IntelMQ writes it: JSON, keys sorted, four spaces. */
export function harmonizationText(table: HarmonizationTable): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    return v;
  };
  return `${JSON.stringify(sorted(table), null, 4)}\n`;
}

/** A unified diff of two texts (line based, 3 lines of context). Empty when equal. */
export function unifiedDiff(a: string, b: string, nameA: string, nameB: string): string {
  if (a === b) return "";
  const x = a === "" ? [] : a.replace(/\n$/, "").split("\n");
  const y = b === "" ? [] : b.replace(/\n$/, "").split("\n");
  const n = x.length;
  const m = y.length;
  // Longest common subsequence table, from the end.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
  }
  const ops: [" " | "-" | "+", string, number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { ops.push([" ", x[i]!, i, j]); i++; j++; }
    else if (i < n && (j === m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) { ops.push(["-", x[i]!, i, j]); i++; }
    else { ops.push(["+", y[j]!, i, j]); j++; }
  }
  const out = [`--- ${nameA}`, `+++ ${nameB}`];
  const C = 3;
  for (let k = 0; k < ops.length;) {
    if (ops[k]![0] === " ") { k++; continue; }
    let start = Math.max(0, k - C);
    let end = k;
    // Extend the hunk while changes are within 2*C lines of each other.
    for (;;) {
      while (end < ops.length && ops[end]![0] !== " ") end++;
      let next = end;
      while (next < ops.length && ops[next]![0] === " " && next - end < 2 * C) next++;
      if (next < ops.length && ops[next]![0] !== " ") { end = next; continue; }
      break;
    }
    const stop = Math.min(ops.length, end + C);
    const hunk = ops.slice(start, stop);
    const aLen = hunk.filter((o) => o[0] !== "+").length;
    const bLen = hunk.filter((o) => o[0] !== "-").length;
    const aStart = hunk[0]![2] + (aLen ? 1 : 0);
    const bStart = hunk[0]![3] + (bLen ? 1 : 0);
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of hunk) out.push(`${o[0]}${o[1]}`);
    k = stop;
    start = stop;
  }
  return `${out.join("\n")}\n`;
}
