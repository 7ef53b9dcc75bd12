// SPDX-License-Identifier: AGPL-3.0-only
/** `intelmqctl check`: configuration, bots, harmonization and (unless -C) the NATS server and its queues. */
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { Broker } from "../shared/broker/index.js";
import { runtimeConfigFromObject, effectiveParams, queueSettingsFor, type BotEntry, type IntelmqPaths, type RuntimeConfig } from "../shared/config/index.js";
import { pyRegex, types } from "../shared/harmonization/index.js";
import { normaliseDestinationQueues, resolveParams } from "../shared/runtime/index.js";
import { configuredQueues, groupOf, groupOfModule } from "./ctl-config.js";
import { hasModule, loadModule } from "./registry.js";

export type CheckLevel = "debug" | "info" | "warning" | "error";
export type CheckLine = [CheckLevel, string];

export interface CheckResult {
  status: "success" | "error";
  lines: CheckLine[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const REQUIRED_KEYS = ["description", "group", "module", "name", "enabled"] as const;

/**
 * Run the checks. `connect` opens the broker (only called unless noConnections); a failure to
 * connect is an error line.
 */
export async function runCheck(paths: IntelmqPaths, opts: { noConnections: boolean; connect: (cfg: RuntimeConfig) => Promise<Broker> }): Promise<CheckResult> {
  const lines: CheckLine[] = [];
  const info = (m: string) => lines.push(["info", m]);
  const warn = (m: string) => lines.push(["warning", m]);
  const error = (m: string) => lines.push(["error", m]);

  info("Reading configuration files.");
  let raw: unknown;
  try {
    const doc = parseDocument(readFileSync(paths.runtimeConfFile, "utf8"), { uniqueKeys: true });
    if (doc.errors.length) throw new Error(doc.errors[0]!.message);
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (err) {
    error(`Failed to read runtime configuration ${paths.runtimeConfFile}: ${message(err)}`);
    return { status: "error", lines };
  }
  let harmonization: unknown;
  try {
    harmonization = JSON.parse(readFileSync(paths.harmonizationConfFile, "utf8"));
  } catch (err) {
    error(`Failed to read harmonization configuration ${paths.harmonizationConfFile}: ${message(err)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    error(`${paths.runtimeConfFile}: the top level must be a mapping of bot ids (and global).`);
    return { status: "error", lines };
  }

  info("Checking runtime configuration.");
  const entries = raw as Record<string, unknown>;
  let global: Record<string, unknown> = {};
  try {
    global = runtimeConfigFromObject({ global: entries.global ?? {} }, paths.runtimeConfFile).global;
  } catch (err) {
    error(message(err));
  }
  const bots: Record<string, BotEntry> = {};
  for (const [id, value] of Object.entries(entries)) {
    if (id === "global") continue;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      error(`Bot ${JSON.stringify(id)}: the entry must be a mapping.`);
      continue;
    }
    const v = value as Record<string, unknown>;
    for (const k of REQUIRED_KEYS) if (!(k in v)) warn(`Bot ${JSON.stringify(id)} has no ${JSON.stringify(k)}.`);
    const fixed = { ...v };
    if ("run_mode" in v && v.run_mode !== "continuous" && v.run_mode !== "scheduled") {
      warn(`Bot ${JSON.stringify(id)} has an invalid run_mode ${JSON.stringify(v.run_mode)}, allowed are "continuous" and "scheduled".`);
      delete fixed.run_mode;
    }
    try {
      const one = runtimeConfigFromObject({ [id]: fixed }, paths.runtimeConfFile);
      bots[id] = one.bots[id]!;
      for (const w of one.warnings) warn(w.message);
    } catch (err) {
      error(message(err));
    }
  }
  const config: RuntimeConfig = { file: paths.runtimeConfFile, global, bots, warnings: [] };

  info("Checking bots.");
  for (const [id, bot] of Object.entries(bots)) {
    const params = effectiveParams(config, id, {});
    let group = groupOf(bot);
    if (!hasModule(bot.module)) {
      error(`Bot ${JSON.stringify(id)}: module ${JSON.stringify(bot.module)} is not installed (no bot of this installation implements it).`);
    } else {
      try {
        const def = await loadModule(bot.module);
        group = ({ collector: "Collector", parser: "Parser", expert: "Expert", output: "Output" } as const)[def.kind];
        const res = resolveParams(def, id, params);
        for (const k of res.unknown) warn(`Bot ${JSON.stringify(id)}: unknown parameter ${JSON.stringify(k)} (ignored by the bot).`);
      } catch (err) {
        error(`Bot ${JSON.stringify(id)}: invalid parameters: ${message(err)}`);
      }
    }
    if (bot.group && groupOfModule(bot.module) && groupOf(bot) !== groupOfModule(bot.module)) {
      warn(`Bot ${JSON.stringify(id)}: group ${JSON.stringify(bot.group)} does not match its module ${JSON.stringify(bot.module)}.`);
    }
    if (group === "Collector" || group === "Parser" || group === "Expert") {
      const dq = normaliseDestinationQueues(params.destination_queues) as Record<string, unknown>;
      const def = dq && typeof dq === "object" ? dq._default : undefined;
      if (!Array.isArray(def) || def.length === 0) {
        error(`Misconfiguration: No (default) destination queue for bot ${JSON.stringify(id)}.`);
      }
    }
  }

  if (harmonization !== undefined) {
    info("Checking harmonization configuration.");
    checkHarmonization(harmonization, lines);
  }

  if (!opts.noConnections) {
    info("Checking the connection to NATS.");
    let broker: Broker | null = null;
    try {
      broker = await opts.connect(config);
    } catch (err) {
      error(`Connecting to NATS failed: ${message(err)}`);
    }
    if (broker) {
      const si = broker.serverInfo();
      info(`NATS server ${si.version} at ${si.url}.`);
      try {
        const configured = configuredQueues(config);
        const ignore = new Set(toList(global.intelmqctl_check_orphaned_queues_ignore));
        const existing = await broker.listQueues();
        info("Checking for orphaned queues.");
        const orphaned: string[] = [];
        for (const q of existing) {
          if (configured.has(q) || ignore.has(q)) continue;
          if ((await broker.queueInfo(q)).depth > 0) orphaned.push(q);
        }
        if (orphaned.length) {
          warn(`Orphaned queues found: ${orphaned.map((q) => `'${q}'`).join(", ")}. Possible cause: the bot(s) were deleted or queue names changed.`);
        }
        const present = new Set(existing);
        const missing = [...configured].filter((q) => !present.has(q)).sort();
        if (missing.length) info(`Queues not created yet (a bot or sender creates them on first use): ${missing.map((q) => `'${q}'`).join(", ")}.`);
        // A stream created before archiving was configured cannot get it later (nats-server 2.9).
        const unarchived: string[] = [];
        for (const q of [...configured].filter((x) => present.has(x)).sort()) {
          if (queueSettingsFor(config, q).archive && !(await broker.queueInfo(q)).archived) unarchived.push(q);
        }
        if (unarchived.length) {
          warn(`Queues that should be archived but are not (their streams were created before): ${unarchived.map((q) => `'${q}'`).join(", ")}. `
            + "Replay finds nothing of them; delete such a stream while it is empty (nats stream rm Q_<queue>) and the bots create it again archived.");
        }
      } catch (err) {
        error(`Listing the queues failed: ${message(err)}`);
      }
    }
  }
  return { status: lines.some(([l]) => l === "error") ? "error" : "success", lines };
}

function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
  return [];
}

/** Each field needs a type (error) and a description (warning); regexes compile; extra is a JSONDict. */
export function checkHarmonization(table: unknown, lines: CheckLine[]): void {
  if (!table || typeof table !== "object" || Array.isArray(table)) {
    lines.push(["error", "Harmonization: the file must be an object with \"event\" and \"report\"."]);
    return;
  }
  for (const [kind, fields] of Object.entries(table as Record<string, unknown>)) {
    if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
      lines.push(["error", `Harmonization: ${JSON.stringify(kind)} must be an object of fields.`]);
      continue;
    }
    for (const [key, spec] of Object.entries(fields as Record<string, unknown>)) {
      const s = (spec && typeof spec === "object" ? spec : {}) as Record<string, unknown>;
      const where = `Harmonization: ${kind} field ${JSON.stringify(key)}`;
      if (typeof s.type !== "string" || s.type === "") lines.push(["error", `${where} has no type.`]);
      else if (!Object.hasOwn(types, s.type)) lines.push(["error", `${where} has an unknown type ${JSON.stringify(s.type)}.`]);
      if (typeof s.description !== "string" || s.description === "") lines.push(["warning", `${where} has no description.`]);
      for (const rk of ["regex", "iregex"] as const) {
        if (s[rk] === undefined) continue;
        try {
          if (typeof s[rk] !== "string") throw new Error("not a string");
          pyRegex(s[rk] as string, rk === "iregex");
        } catch (err) {
          lines.push(["error", `${where}: invalid ${rk} ${JSON.stringify(s[rk])}: ${message(err)}`]);
        }
      }
    }
  }
  const event = (table as Record<string, Record<string, Record<string, unknown>> | undefined>).event;
  if (event?.extra?.type !== "JSONDict") lines.push(["error", "Harmonization: the event field \"extra\" must be of type JSONDict."]);
}
