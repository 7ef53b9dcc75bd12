// SPDX-License-Identifier: AGPL-3.0-only
/** `intelmqctl check`: configuration, bots, harmonization and (unless -C) the NATS server and its queues. */
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { DEFAULTS as BROKER_DEFAULTS, type Broker } from "../shared/broker/index.js";
import {
  QUEUE_LIMIT_KEYS, checkGlobal, effectiveParams, intelmqGlobalSchema, queueLimitsFor, queueSettings, queueSettingsFor, runtimeConfigFromObject, sourceQueueOf,
  type BotEntry, type IntelmqPaths, type RuntimeConfig,
} from "../shared/config/index.js";
import { createHarmonization, loadHarmonization, pyRegex, types, type Harmonization } from "../shared/harmonization/index.js";
import { RUNTIME_KEYS, isGlobalKey, normaliseDestinationQueues, resolveParams } from "../shared/runtime/index.js";
import { configuredQueues, groupOf, groupOfModule, queuesOf } from "./ctl-config.js";
import { hasModule, loadModule } from "./registry.js";
import { errorMessage } from "../shared/errors/index.js";

const DEFAULT_QUEUE_MAX_BYTES = BROKER_DEFAULTS.maxBytes;

export type CheckLevel = "debug" | "info" | "warning" | "error";
export type CheckLine = [CheckLevel, string];

export interface CheckResult {
  status: "success" | "error";
  lines: CheckLine[];
}

const REQUIRED_KEYS = ["description", "group", "module", "name", "enabled"] as const;

/**
 * Run the checks. `connect` opens the broker (only called unless noConnections); a failure to
 * connect is an error line.
 */
export async function runCheck(paths: IntelmqPaths, opts: { noConnections: boolean; connect: (cfg: RuntimeConfig) => Promise<Broker>; fix?: boolean }): Promise<CheckResult> {
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
    error(`Failed to read runtime configuration ${paths.runtimeConfFile}: ${errorMessage(err)}`);
    return { status: "error", lines };
  }
  let harmonization: unknown;
  try {
    harmonization = JSON.parse(readFileSync(paths.harmonizationConfFile, "utf8"));
  } catch (err) {
    error(`Failed to read harmonization configuration ${paths.harmonizationConfFile}: ${errorMessage(err)}`);
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
    error(errorMessage(err));
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
      error(errorMessage(err));
    }
  }
  const config: RuntimeConfig = { file: paths.runtimeConfFile, global, bots, warnings: [] };
  if (Object.keys(entries).filter((k) => k !== "global").length === 0) {
    error(`${paths.runtimeConfFile} has no bots: add one entry per bot id (see README.md, Configuration).`);
  }

  let compiled: Harmonization | undefined;
  /** The harmonization for bots' own checks: the configured one, or the default where it is unusable. */
  const harmonizationOf = (): Harmonization => {
    if (!compiled) {
      try {
        compiled = createHarmonization(harmonization as Parameters<typeof createHarmonization>[0], paths.harmonizationConfFile);
        compiled.lookup("Event");
      } catch {
        compiled = loadHarmonization();
      }
    }
    return compiled;
  };

  info("Checking bots.");
  // Bots that cannot run (module not installed, invalid parameters): the flow stops at them.
  const broken = new Map<string, string>();
  // Keys some configured bot declares: not unknown when set globally.
  const declared = new Set<string>();
  for (const [id, bot] of Object.entries(bots)) {
    const params = effectiveParams(config, id, {});
    let group = groupOf(bot);
    if (!hasModule(bot.module)) {
      error(`Bot ${JSON.stringify(id)}: module ${JSON.stringify(bot.module)} is not installed (no bot of this installation implements it).`);
      broken.set(id, "not installed");
    } else {
      try {
        const def = await loadModule(bot.module);
        group = ({ collector: "Collector", parser: "Parser", expert: "Expert", output: "Output" } as const)[def.kind];
        const res = resolveParams(def, id, params);
        for (const k of res.unknown) warn(`Bot ${JSON.stringify(id)}: unknown parameter ${JSON.stringify(k)} (ignored by the bot).`);
        for (const k of Object.keys(params)) if (!res.unknown.includes(k)) declared.add(k);
        if (def.check) {
          // The bot's own checks (IntelMQ's Bot.check()): a rules file's syntax, for example.
          const own = await def.check(res.bot, { botId: id, rootDir: paths.root, harmonization: harmonizationOf() });
          for (const [level, m] of own) lines.push([level, `Bot ${JSON.stringify(id)}: ${m}`]);
          if (own.some(([level]) => level === "error")) broken.set(id, "invalid configuration");
        }
      } catch (err) {
        error(`Bot ${JSON.stringify(id)}: invalid parameters: ${errorMessage(err)}`);
        broken.set(id, "invalid parameters");
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

  for (const line of unreachableBots(config, broken)) warn(line);
  for (const line of checkGlobal(global, (k) => RUNTIME_KEYS.has(k) || isGlobalKey(k) || declared.has(k))) warn(line);
  for (const line of queueLimitLines(config)) warn(line);

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
      error(`Connecting to NATS failed: ${errorMessage(err)}`);
    }
    if (broker) {
      const si = broker.serverInfo();
      info(`NATS server ${si.version} at ${si.url}.`);
      try {
        const configured = configuredQueues(config);
        const ignoreKey = intelmqGlobalSchema.shape.intelmqctl_check_orphaned_queues_ignore.safeParse(global.intelmqctl_check_orphaned_queues_ignore);
        const ignore = new Set(ignoreKey.success ? ignoreKey.data ?? [] : []);
        const existing = await broker.queues.list();
        info("Checking for orphaned queues.");
        const orphaned: string[] = [];
        for (const q of existing) {
          if (configured.has(q) || ignore.has(q)) continue;
          if ((await broker.queues.info(q)).depth > 0) orphaned.push(q);
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
          if (queueSettingsFor(config, q).archive && !(await broker.queues.info(q)).archived) unarchived.push(q);
        }
        if (unarchived.length) {
          warn(`Queues that should be archived but are not (their streams were created before): ${unarchived.map((q) => `'${q}'`).join(", ")}. `
            + "Replay finds nothing of them; delete such a stream while it is empty (nats stream rm Q_<queue>) and the bots create it again archived.");
        }
        // Limits changed in runtime.yaml reach a stream when a bot using it starts or reloads.
        for (const q of [...configured].filter((x) => present.has(x)).sort()) {
          const want = queueLimitsFor(config, q);
          const have = await broker.queues.info(q);
          const wantBytes = want.maxBytes ?? DEFAULT_QUEUE_MAX_BYTES;
          const wantMsgs = want.maxMsgs !== undefined && want.maxMsgs > 0 ? want.maxMsgs : null;
          if (have.maxBytes !== wantBytes || have.maxMsgs !== wantMsgs) {
            const differs = `Queue '${q}' has max_bytes ${have.maxBytes ?? "none"}, max_msgs ${have.maxMsgs ?? "none"}; runtime.yaml says ${wantBytes}, ${wantMsgs ?? "none"}`;
            if (opts.fix) {
              // What a bot using the queue does when it starts: the stream gets runtime.yaml's settings.
              await broker.queues.ensure(q, queueSettingsFor(config, q));
              const now = await broker.queues.info(q);
              if (now.maxBytes === wantBytes && now.maxMsgs === wantMsgs) info(`${differs}: updated.`);
              else warn(`${differs}: could not be updated now (a lower limit only while the queue holds at most half of it).`);
            } else {
              warn(`${differs}: applied when a bot using it starts or reloads (a lower limit only while the queue holds at most half of it), or now by intelmqctl check --fix.`);
            }
          }
        }
        // In a cluster an R1 queue stops whenever its one node is down.
        if (si.cluster) {
          const single: string[] = [];
          for (const q of [...configured].filter((x) => present.has(x)).sort()) {
            if (((await broker.queues.info(q)).replicas ?? 1) < 2) single.push(q);
          }
          const want = queueSettings(config).replicas ?? 1;
          if (opts.fix && want >= 2 && single.length) {
            for (const q of single) await broker.queues.ensure(q, queueSettingsFor(config, q));
            const still: string[] = [];
            for (const q of single) if (((await broker.queues.info(q)).replicas ?? 1) < 2) still.push(q);
            info(`Queues ${single.filter((q) => !still.includes(q)).map((q) => `'${q}'`).join(", ") || "none"} now have ${want} replicas.`);
            single.splice(0, single.length, ...still);
          }
          if (single.length || want < 2) {
            warn(`NATS runs as cluster '${si.cluster}' but ${single.length ? `queues ${single.map((q) => `'${q}'`).join(", ")} have one replica` : "queue_replicas is 1"}: `
              + "a queue stops while its node is down and its messages are lost with the node's disk. Set queue_replicas: 3 under global "
              + "(new queues get it; a bot starting with it scales its existing queues).");
          }
        }
      } catch (err) {
        error(`Listing the queues failed: ${errorMessage(err)}`);
      }
    }
  }
  return { status: lines.some(([l]) => l === "error") ? "error" : "success", lines };
}

/**
 * Bots that nothing reaches because a bot upstream of them cannot run: the flow starts at the
 * collectors and at bots whose source queue no configured bot writes to (fed from outside), and
 * goes through every bot that is not `broken` to the bots reading its destination queues.
 */
export function unreachableBots(config: RuntimeConfig, broken: ReadonlyMap<string, string>): string[] {
  const ids = Object.keys(config.bots);
  const queues = new Map(ids.map((id) => [id, queuesOf(config, id)]));
  const feeders = new Map<string, string[]>();
  for (const [id, q] of queues) for (const d of q.destinations) feeders.set(d, [...(feeders.get(d) ?? []), id]);
  const readers = new Map<string, string[]>();
  for (const [id, q] of queues) if (q.source) readers.set(q.source, [...(readers.get(q.source) ?? []), id]);

  const reached = new Set<string>();
  const todo = ids.filter((id) => {
    const src = queues.get(id)!.source;
    return src === null || (feeders.get(src) ?? []).length === 0;
  });
  while (todo.length) {
    const id = todo.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    if (broken.has(id)) continue;
    for (const d of queues.get(id)!.destinations) for (const r of readers.get(d) ?? []) if (!reached.has(r)) todo.push(r);
  }

  const out: string[] = [];
  for (const id of ids) {
    if (reached.has(id) || broken.has(id)) continue;
    // The broken bots upstream of it, found walking up the queues (not past a broken bot).
    const missing = new Set<string>();
    const seen = new Set<string>([id]);
    const up = [id];
    while (up.length) {
      const cur = up.pop()!;
      const src = queues.get(cur)!.source;
      for (const f of src ? feeders.get(src) ?? [] : []) {
        if (seen.has(f)) continue;
        seen.add(f);
        if (broken.has(f)) missing.add(f);
        else up.push(f);
      }
    }
    out.push(missing.size
      ? `Bot ${JSON.stringify(id)} receives nothing: the bots upstream of it cannot run (${[...missing].map((m) => `${JSON.stringify(m)}: ${broken.get(m)}`).join(", ")}).`
      : `Bot ${JSON.stringify(id)} receives nothing: no collector feeds the bots upstream of it (its queues form a loop).`);
  }
  return out;
}

/** Queue limits set where they do nothing (a collector has no source queue) or disagree (bots sharing a source queue). */
export function queueLimitLines(config: RuntimeConfig): string[] {
  const out: string[] = [];
  const readers = new Map<string, string[]>();
  for (const [id, bot] of Object.entries(config.bots)) {
    const set = QUEUE_LIMIT_KEYS.filter((k) => bot.parameters[k] !== undefined && bot.parameters[k] !== null);
    const source = sourceQueueOf(config, id);
    if (source === null) {
      if (set.length) out.push(`Bot ${JSON.stringify(id)}: ${set.join(", ")} limit its source queue, and a collector has none (ignored).`);
      continue;
    }
    readers.set(source, [...(readers.get(source) ?? []), id]);
  }
  for (const [q, ids] of readers) {
    if (ids.length < 2) continue;
    const differ = QUEUE_LIMIT_KEYS.filter((k) => new Set(ids.map((id) => JSON.stringify(config.bots[id]!.parameters[k] ?? null))).size > 1);
    if (differ.length) {
      const eff = queueLimitsFor(config, q);
      out.push(`Bots ${ids.map((i) => JSON.stringify(i)).join(", ")} share the source queue '${q}' with different ${differ.join(", ")}: `
        + `the smallest holds (max_bytes ${eff.maxBytes ?? "default"}, max_msgs ${eff.maxMsgs ?? "none"})`
        + `${differ.includes("queue_replicas") ? `, of replicas the most (${eff.replicas ?? "default"})` : ""}.`);
    }
  }
  return out;
}

/** Each field needs a type (error) and a description (warning); regexes compile; extra is a JSONDict. */
function checkHarmonization(table: unknown, lines: CheckLine[]): void {
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
          lines.push(["error", `${where}: invalid ${rk} ${JSON.stringify(s[rk])}: ${errorMessage(err)}`]);
        }
      }
    }
  }
  const event = (table as Record<string, Record<string, Record<string, unknown>> | undefined>).event;
  if (event?.extra?.type !== "JSONDict") lines.push(["error", "Harmonization: the event field \"extra\" must be of type JSONDict."]);
}
