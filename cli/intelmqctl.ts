// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl`: IntelMQ's control tool over NATS. Bots are started, stopped and reloaded through
 * the control services (intelmq.control.botnet/host) or, for bots no control service manages,
 * through their instances (intelmq.control.bot.<id>); queues are JetStream streams. Output,
 * options and exit codes are IntelMQ's: 0 success, 1 a bot not in the expected state (or an
 * error), 2 queue not found.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, Option } from "commander";
import { DEFAULTS as BROKER_DEFAULTS, type Broker } from "../shared/broker/index.js";
import {
  INTELMQ_OPT_ROOT, PROJECT_ROOT, globalSettings, intelmqPaths, loadRuntimeConfig, maskUrl, natsOptions, queueSettingsFor, remappedPaths, setBotEnabled,
  type IntelmqPaths, type RuntimeConfig,
} from "../shared/config/index.js";
import type { BotStatus, HostVerb } from "../shared/control-protocol/index.js";
import { parseArgs, parseWhen } from "./args.js";
import { connectCtl } from "./connect.js";
import { runCheck } from "./ctl-check.js";
import { composeFile } from "./ctl-compose.js";
import { k8sFiles } from "./ctl-k8s.js";
import { writeNatsConfig } from "./ctl-nats-config.js";
import { BOT_GROUP, botIds, configuredQueues, installedBots, queuesOf, type GroupName } from "./ctl-config.js";
import { ControlClient, type BotView, type HostView, type InstanceView } from "./ctl-control.js";
import { REPLAY_TIME_HELP, replayQueue } from "./ctl-replay.js";
import { runBotCmd, type RunAction } from "./ctl-run.js";
import { runUpdateDatabase } from "./update-database.js";
import { upgradeConfigCmd } from "./ctl-upgrade-cmd.js";
import { PINO_LEVEL, guardProcess, loggedReason, verboseArg, type LoggedError } from "./output.js";
import { errorMessage } from "../shared/errors/index.js";
import { FeedUsageError, addFeed, feedRows, loadCatalogue } from "./ctl-feed.js";

// IntelMQ's texts, so that people and scripts reading them see what they know.
const MESSAGES = {
  enabled: "Bot %s is enabled.",
  disabled: "Bot %s is disabled.",
  starting: "Starting %s...",
  running: "Bot %s is running.",
  stopped: "Bot %s is stopped.",
  stopping: "Stopping bot %s...",
  reloading: "Reloading bot %s ...",
  enabling: "Enabling %s.",
  disabling: "Disabling %s.",
  reloaded: "Bot %s is reloaded.",
  restarting: "Restarting %s...",
} as const;
const ERROR_MESSAGES = {
  starting: "Bot %s failed to START.",
  running: "Bot %s is still running.",
  stopped: "Bot %s was NOT RUNNING.",
  stopping: "Bot %s failed to STOP.",
  unknown: "Status of Bot %s is unknown: %s.",
} as const;
const fmt = (t: string, ...args: string[]) => args.reduce((s, a) => s.replace("%s", a), t);

/** The usage errors of the tool (bad bot id): exit code 2 as argparse. */
class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Where intelmqctl writes: the process's stdout and stderr, or (for the API, which runs the
 * commands in its own process) anything else.
 */
export interface CtlIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** A connection to use instead of a new one (left open afterwards). */
  broker?: Broker;
  /** How long `run ... message get|pop` wait for a message (default: for ever). */
  runWaitMs?: number;
}

const PROCESS_IO: CtlIo = {
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
};

/** Where results go: JSON on stdout, or IntelMQ's text lines (info to stdout unless quiet, errors to stderr). */
class Output {
  constructor(readonly json: boolean, readonly quiet: boolean, readonly verbose = false, readonly io: CtlIo = PROCESS_IO) {}
  /** A progress or status line (text mode, not quiet). */
  info(line: string): void {
    if (!this.json && !this.quiet) this.io.stdout(`${line}\n`);
  }
  /** A problem (text mode; JSON mode reports through the result and the exit code). */
  error(line: string): void {
    if (!this.json) this.io.stderr(`${line}\n`);
  }
  /** A problem that must be seen in both modes (e.g. nobody can start the bots). */
  alert(line: string): void {
    this.io.stderr(`${line}\n`);
  }
  /** The command's result: the JSON value, or text lines (printed even when quiet). */
  result(value: unknown, text?: () => string[]): void {
    if (this.json) this.io.stdout(`${JSON.stringify(value)}\n`);
    else if (text) for (const l of text()) this.io.stdout(`${l}\n`);
  }
}

interface Ctx {
  paths: IntelmqPaths;
  out: Output;
  config(): RuntimeConfig;
  broker(): Promise<Broker>;
  control(): Promise<ControlClient>;
}

function seconds(v: unknown, dflt: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : dflt;
}

function makeCtx(out: Output): Ctx & { close(): Promise<void> } {
  const paths = intelmqPaths();
  let config: RuntimeConfig | null = null;
  let broker: Promise<Broker> | null = null;
  let control: ControlClient | null = null;
  const ctx = {
    paths,
    out,
    config(): RuntimeConfig {
      if (!config) {
        config = loadRuntimeConfig(paths.runtimeConfFile);
        // An empty file is a mistake an operator should see at once, not an empty listing.
        if (Object.keys(config.bots).length === 0) out.alert(`intelmqctl: ${paths.runtimeConfFile} has no bots.`);
      }
      return config;
    },
    broker(): Promise<Broker> {
      broker ??= out.io.broker ? Promise.resolve(out.io.broker) : connectCtl(ctx.config());
      return broker;
    },
    async control(): Promise<ControlClient> {
      if (!control) {
        const g = globalSettings(ctx.config().global);
        control = new ControlClient(await ctx.broker(), {
          replyWaitMs: Math.round(seconds(process.env.INTELMQCTL_CONTROL_WAIT ?? g.intelmqctl_control_wait, 0.5) * 1000),
          actionTimeoutMs: Math.round((g.intelmqctl_action_timeout ?? 60) * 1000),
        });
      }
      return control;
    },
    async close(): Promise<void> {
      if (!broker || out.io.broker) return;
      const b = await broker.catch(() => null);
      if (b) await Promise.race([b.close().catch(() => undefined), sleep(3000)]);
    },
  };
  return ctx;
}

// ---------------------------------------------------------------- bots

/** enabled of runtime.yaml as it is now; undefined for a bot it does not name (managed elsewhere). */
function isEnabled(ctx: Ctx, id: string): boolean | undefined {
  const b = ctx.config().bots[id];
  return b ? b.enabled : undefined;
}

function requireBot(ctx: Ctx, id: string): void {
  if (!Object.hasOwn(ctx.config().bots, id)) {
    throw new UsageError(`Bot ${JSON.stringify(id)} does not exist in ${ctx.paths.runtimeConfFile}.`);
  }
}

function statusLine(v: BotView): string {
  if (v.status === "running" || v.status === "stopped" || v.status === "disabled") return fmt(MESSAGES[v.status], v.id);
  if (v.status === "starting") return fmt(MESSAGES.starting, v.id);
  if (v.status === "stopping") return fmt(MESSAGES.stopping, v.id);
  return fmt(ERROR_MESSAGES.unknown, v.id, `'${v.error ?? v.status}'`);
}

function instanceLines(v: BotView): string[] {
  return v.instances.map((i) => `    instance ${i.instance} on ${i.host} (pid ${i.pid}): ${i.state}${i.managed ? ", managed by its control service" : ""}`);
}

function details(v: BotView): Record<string, unknown> {
  return {
    status: v.status,
    managed_by: v.managedBy,
    instances: v.instances.map((i) => ({ instance: i.instance, host: i.host, pid: i.pid, state: i.state, managed: i.managed, answered: i.answered })),
    ...(v.error ? { error: v.error } : {}),
  };
}

const EXPECTED: Record<string, BotStatus[]> = {
  start: ["running", "disabled"],
  status: ["running", "disabled"],
  reload: ["running", "disabled"],
  stop: ["stopped", "disabled"],
};

type Action = "start" | "stop" | "reload";

/** Instances that answer on the bot's subject but no control service manages (started by hand, containers). */
function unmanagedInstances(v: BotView): InstanceView[] {
  return v.instances.filter((i) => i.answered && !i.managed);
}

/**
 * Apply an action to one bot: through the control services that manage it, and to the instances
 * no control service manages (start = resume, stop = pause pulling, reload), so that it reaches
 * every instance wherever it runs.
 */
async function botAction(ctx: Ctx, action: Action, id: string, before: BotView, hosts: HostView[]): Promise<{ view: BotView; noOne: boolean; errors: string[] }> {
  const control = await ctx.control();
  const enabled = (x: string) => isEnabled(ctx, x);
  const errors: string[] = [];
  let fresh = hosts;
  if (before.managedBy.length) {
    // A bot named explicitly starts even when disabled (force), as in IntelMQ.
    const replies = await Promise.all(before.managedBy.map((h) => control.hostAction(h, action as HostVerb, { bots: [id], ...(action === "start" ? { force: true } : {}) })));
    fresh = hosts.map((h) => {
      const i = before.managedBy.indexOf(h.host);
      if (i < 0) return h;
      const r = replies[i];
      if (r && !r.error) return r;
      errors.push(r?.error ? `the control service of ${h.host}: ${r.error}` : `the control service of ${h.host} did not answer the ${action} in time`);
      return { host: h.host, bots: { ...h.bots, [id]: { ...h.bots[id]!, status: "unknown" as BotStatus } } };
    });
  }
  // Instances nobody manages: after the control services acted, so that a stop only reaches
  // those that are left (a managed process has ended by then).
  let noOne = false;
  if (!before.managedBy.length || unmanagedInstances(before).length) {
    const told = await control.tellInstances(id, action);
    errors.push(...told.errors);
    noOne = !before.managedBy.length && told.instances.length === 0 && told.errors.length === 0;
  }
  const view = (await control.statuses([id], enabled, { hosts: fresh })).get(id)!;
  return { view, noOne, errors };
}

function noControlService(ctx: Ctx, ids: string[], hosts: HostView[]): void {
  const who = hosts.length
    ? `no control service (of ${hosts.map((h) => h.host).join(", ")}) manages ${ids.length === 1 ? "it" : "them"}`
    : "no control service answered on intelmq.control.botnet";
  ctx.out.alert(
    `Cannot start ${ids.map((i) => JSON.stringify(i)).join(", ")}: ${who} and no instance of ${ids.length === 1 ? "it" : "them"} runs. ` +
    "Run the control service (node bin/intelmq-control.mjs) on a host, or `intelmq-bot <bot-id>`.",
  );
}

/** Why a bot is not running after a start: the error its control service saw, or that it is still starting. */
function startFailure(v: BotView): string | null {
  if (v.error) return v.error;
  if (v.status === "starting") return "no first heartbeat yet: still starting when the control service stopped waiting (see var/log/" + v.id + ".log)";
  return null;
}

/** Who an instance is, for the lines a stop prints. */
function instanceName(i: InstanceView): string {
  return `instance ${i.instance} (pid ${i.pid}, ${i.managed ? `managed by the control service of ${i.host}` : `on ${i.host}, not managed by a control service`})`;
}

/**
 * What a stop did to each instance that was there before: ended, paused (an instance nobody
 * manages stops pulling and stays connected), or not stopped and why. Empty for the usual case
 * of one managed process that ended (IntelMQ prints no detail then).
 */
function stopReport(id: string, before: BotView, after: BotView, errors: string[]): { lines: string[]; failed: string[] } {
  const lines: string[] = [];
  const failed: string[] = [];
  for (const b of before.instances) {
    if (b.pid <= 0) continue;
    const a = after.instances.find((x) => x.instance === b.instance || (x.host === b.host && x.pid === b.pid));
    if (!a) lines.push(`    ${instanceName(b)}: stopped`);
    else if (a.state === "paused") lines.push(`    ${instanceName(b)}: stopped (paused: the process stays connected; \`intelmqctl start ${id}\` resumes it)`);
    else if (a.state === "stopped") lines.push(`    ${instanceName(b)}: stopped`);
    else {
      const why = b.managed
        ? errors.find((e) => e.includes(b.host)) ?? `its control service reports it ${a.state}`
        : b.answered ? (errors[0] ?? `it answered the stop but is ${a.state}`) : "it did not answer on its control subject";
      failed.push(b.instance);
      lines.push(`    ${instanceName(b)}: NOT stopped, still ${a.state}: ${why}`);
    }
  }
  const detailed = failed.length > 0 || before.instances.length > 1 || before.instances.some((i) => !i.managed);
  return { lines: detailed ? lines : [], failed };
}

/** start|stop|reload of one bot, with IntelMQ's messages. Returns [exit code, status]. */
async function singleAction(ctx: Ctx, action: Action, id: string): Promise<[number, BotStatus]> {
  const control = await ctx.control();
  const { views, hosts } = await control.survey([id], (x) => isEnabled(ctx, x));
  const before = views.get(id)!;
  const out = ctx.out;
  if (action === "stop" && before.status !== "running" && before.status !== "starting" && before.status !== "error" && before.status !== "unknown") {
    out.error(fmt(ERROR_MESSAGES.stopped, id));
    return [0, before.status === "disabled" ? "disabled" : "stopped"];
  }
  if (action === "reload" && before.status !== "running") {
    out.error(fmt(ERROR_MESSAGES.stopped, id));
    return [before.status === "disabled" ? 0 : 1, before.status];
  }
  // Running, and nothing of it paused: nothing to start.
  if (action === "start" && before.status === "running" && !unmanagedInstances(before).some((i) => i.state === "paused")) {
    out.info(statusLine(before));
    return [0, "running"];
  }
  out.info(fmt(action === "start" ? MESSAGES.starting : action === "stop" ? MESSAGES.stopping : MESSAGES.reloading, id));
  const { view, noOne, errors } = await botAction(ctx, action, id, before, hosts);
  if (action !== "stop") for (const e of errors) out.error(`Bot ${id}: ${e}`);
  if (action === "reload" && errors.length) return [1, view.status === "running" ? "running" : view.status];
  if (action === "start") {
    if (view.status === "running") out.info(statusLine(view));
    else {
      out.error(fmt(ERROR_MESSAGES.starting, id));
      const why = startFailure(view);
      if (noOne) noControlService(ctx, [id], hosts);
      else if (why) out.error(`${id}: ${why}`);
    }
    return [view.status === "running" ? 0 : 1, view.status === "disabled" ? "stopped" : view.status];
  }
  if (action === "stop") {
    const { lines, failed } = stopReport(id, before, view, errors);
    const ok = EXPECTED.stop!.includes(view.status) && failed.length === 0;
    if (ok) {
      for (const l of lines) out.info(l);
      out.info(fmt(MESSAGES.stopped, id));
    } else {
      for (const l of lines) out.error(l);
      for (const e of errors) if (!lines.some((l) => l.includes(e))) out.error(`Bot ${id}: ${e}`);
      out.error(fmt(ERROR_MESSAGES.stopping, id));
    }
    return [ok ? 0 : 1, view.status];
  }
  if (view.status === "running") out.info(fmt(MESSAGES.reloaded, id));
  else out.error(statusLine(view));
  return [view.status === "running" ? 0 : 1, view.status];
}

function botnetName(group?: GroupName): [string, string] {
  return group ? [`the ${BOT_GROUP[group]} group`, `The ${BOT_GROUP[group]} group`] : ["botnet", "Botnet"];
}

/** start|stop|reload of the botnet or a group; waits 0.75 s, then reads every status. */
async function botnetAction(ctx: Ctx, action: Action, group?: GroupName): Promise<[number, Record<string, BotStatus>]> {
  const control = await ctx.control();
  const out = ctx.out;
  const ids = botIds(ctx.config(), group);
  const [name, Name] = botnetName(group);
  out.info(action === "start" ? `Starting ${name}...` : action === "stop" ? `Stopping ${name}...` : `Reloading ${name} ...`);
  const { views, hosts } = await control.survey(ids, (x) => isEnabled(ctx, x), { all: !group });
  const targets = [...views.keys()];
  const wanted = (id: string, h?: HostView) => action !== "start" || (isEnabled(ctx, id) ?? h?.bots[id]?.enabled ?? true);

  // Control services get explicit lists: runtime.yaml as it is now decides which bots are enabled.
  // A start resolves once their new processes sent their first heartbeats (or failed).
  const hostErrors = new Map<string, string>();
  await Promise.all(hosts.map(async (h) => {
    const mine = targets.filter((id) => Object.hasOwn(h.bots, id) && wanted(id, h));
    if (mine.length === 0) return;
    const r = await control.hostAction(h.host, action as HostVerb, { bots: mine });
    if (!r) hostErrors.set(h.host, `The control service of ${h.host} did not answer the ${action} in time.`);
    else if (r.error) hostErrors.set(h.host, `The control service of ${h.host}: ${r.error}`);
  }));
  for (const e of hostErrors.values()) out.error(e);
  // Instances no control service manages (of bots nobody manages, or started by hand besides
  // managed ones): they pause, resume or reload.
  const cannotStart: string[] = [];
  await Promise.all(targets.map(async (id) => {
    const v = views.get(id)!;
    const managed = v.managedBy.length > 0;
    if (managed && unmanagedInstances(v).length === 0) return;
    if (action === "start") {
      if (!wanted(id)) return;
      if (!managed && v.status === "running" && !unmanagedInstances(v).some((i) => i.state === "paused")) return;
      if (!managed && v.instances.length === 0) { cannotStart.push(id); return; }
    } else if (v.instances.length === 0) return;
    const told = await control.tellInstances(id, action);
    for (const e of told.errors) out.error(`Bot ${id}: ${e}`);
  }));
  if (action === "start") for (const id of targets) if (isEnabled(ctx, id) === false && views.get(id)!.status === "disabled") out.info(fmt(MESSAGES.disabled, id));
  await sleep(750);
  const after = await control.statuses(targets, (x) => isEnabled(ctx, x), { all: !group });
  const result: Record<string, BotStatus> = {};
  const failed: string[] = [];
  for (const [id, v] of after) {
    result[id] = v.status;
    if (!EXPECTED[action]!.includes(v.status)) failed.push(id);
    if (action === "start" && isEnabled(ctx, id) === false && v.status === "disabled") continue;
    const ok = EXPECTED[action]!.includes(v.status);
    if (ok) out.info(action === "reload" && v.status === "running" ? fmt(MESSAGES.reloaded, id) : statusLine(v));
    else if (action === "start") {
      out.error(fmt(ERROR_MESSAGES.starting, id));
      const why = cannotStart.includes(id) ? null : startFailure(v);
      if (why) out.error(`${id}: ${why}`);
    } else if (action === "stop") {
      out.error(fmt(ERROR_MESSAGES.stopping, id));
      for (const i of v.instances) out.error(`    ${instanceName(i)}: still ${i.state}`);
    } else out.error(statusLine(v));
  }
  const stillDown = cannotStart.filter((id) => after.get(id)?.status !== "running");
  if (stillDown.length) noControlService(ctx, stillDown, hosts);
  if (failed.length === 0) out.info(action === "start" ? `${Name} is running.` : action === "stop" ? `${Name} is stopped.` : `${Name} is reloaded.`);
  else {
    const verb = action === "start" ? "failed to START" : action === "stop" ? "failed to STOP" : "failed to RELOAD";
    out.error(`${Name} is not completely ${action === "start" ? "running" : action === "stop" ? "stopped" : "reloaded"}: ${failed.join(", ")} ${verb}.`);
  }
  return [failed.length ? 1 : 0, result];
}

/** status of one bot or the botnet. */
async function statusCmd(ctx: Ctx, id: string | undefined, group: GroupName | undefined, detailed: boolean): Promise<number> {
  const control = await ctx.control();
  const ids = id ? [id] : botIds(ctx.config(), group);
  const views = await control.statuses(ids, (x) => isEnabled(ctx, x), { heartbeats: true, all: !id && !group });
  // No bots at all is not a botnet in the expected state (the notice said why).
  const noBots = Object.keys(ctx.config().bots).length === 0;
  const code = !noBots && [...views.values()].every((v) => EXPECTED.status!.includes(v.status)) ? 0 : 1;
  const text = () => {
    const lines: string[] = [];
    for (const v of views.values()) {
      lines.push(statusLine(v));
      lines.push(...instanceLines(v));
    }
    return lines;
  };
  if (ctx.out.quiet && !ctx.out.json) return code;
  if (id) {
    const v = views.get(id)!;
    ctx.out.result(detailed ? details(v) : v.status, text);
  } else {
    const r: Record<string, unknown> = {};
    for (const [k, v] of views) r[k] = detailed ? details(v) : v.status;
    ctx.out.result(r, text);
  }
  return code;
}

async function actionCmd(ctx: Ctx, action: "start" | "stop" | "restart" | "reload", id: string | undefined, group: GroupName | undefined): Promise<number> {
  if (id) {
    requireBot(ctx, id);
    if (action === "restart") {
      ctx.out.info(fmt(MESSAGES.restarting, id));
      const [c1, s1] = await singleAction(ctx, "stop", id);
      if (!EXPECTED.stop!.includes(s1)) {
        ctx.out.result(s1);
        return c1 || 1;
      }
      const [c2, s2] = await singleAction(ctx, "start", id);
      ctx.out.result([s1, s2]);
      return c1 | c2;
    }
    const [code, status] = await singleAction(ctx, action, id);
    ctx.out.result(status);
    return code;
  }
  if (action === "restart") {
    const [c1] = await botnetAction(ctx, "stop", group);
    const [c2, r2] = await botnetAction(ctx, "start", group);
    ctx.out.result(r2);
    return c1 | c2;
  }
  const [code, r] = await botnetAction(ctx, action, group);
  ctx.out.result(r);
  return Object.keys(ctx.config().bots).length === 0 ? 1 : code;
}

// ---------------------------------------------------------------- feeds

function feedListCmd(ctx: Ctx, runnableOnly: boolean): number {
  const rows = feedRows(loadCatalogue(ctx.paths.feedsFile)).filter((r) => !runnableOnly || r.status === "runnable");
  ctx.out.result(rows, () => {
    const w1 = Math.max(8, ...rows.map((r) => r.provider.length));
    const w2 = Math.max(4, ...rows.map((r) => r.feed.length));
    const line = (a: string, b: string, c: string) => `${a.padEnd(w1)}  ${b.padEnd(w2)}  ${c}`;
    const status = (r: (typeof rows)[number]) =>
      r.status === "needs an account" && r.needs.length ? `${r.status} (${r.needs.join(", ")})`
        : r.status === "needs a collector we lack" ? `${r.status} (${r.collector ?? "none"})`
          : r.status === "needs a parser we lack" ? `${r.status} (${r.parser ?? "none"})` : r.status;
    const runnable = rows.filter((r) => r.status === "runnable").length;
    return [line("Provider", "Feed", "Status"), ...rows.map((r) => line(r.provider, r.feed, status(r))), `${rows.length} feeds, ${runnable} runnable as they are.`];
  });
  return 0;
}

async function feedAddCmd(ctx: Ctx, provider: string, name: string, o: { id?: string; param: string[]; to?: string }): Promise<number> {
  const r = await addFeed(ctx.config(), loadCatalogue(ctx.paths.feedsFile), provider, name, { id: o.id, params: o.param, to: o.to });
  ctx.out.result(r, () => [
    `Added ${r.collector} and ${r.parser} to ${r.file}${r.destination ? `; the parser sends to ${r.destination}` : "; the parser has no destination yet (--to <queue>)"}.`,
    `Check and start them: intelmqctl check && intelmqctl start ${r.collector} && intelmqctl start ${r.parser}`,
  ]);
  return 0;
}

async function enableCmd(ctx: Ctx, id: string, enable: boolean): Promise<number> {
  const config = ctx.config();
  requireBot(ctx, id);
  ctx.out.info(fmt(enable ? MESSAGES.enabling : MESSAGES.disabling, id));
  setBotEnabled(config, id, enable);
  let view: BotView;
  try {
    const control = await ctx.control();
    view = (await control.statuses([id], (x) => isEnabled(ctx, x))).get(id)!;
  } catch (err) {
    ctx.out.error(fmt(ERROR_MESSAGES.unknown, id, `'${errorMessage(err)}'`));
    ctx.out.result("unknown");
    return 1;
  }
  ctx.out.info(statusLine(view));
  ctx.out.result(view.status);
  return EXPECTED.status!.includes(view.status) || view.status === "stopped" ? 0 : 1;
}

// ---------------------------------------------------------------- queues

/** A queue's fill against its limits: what its stream holds (null limits: none). */
interface QueueFill { messages: number; bytes: number; max_msgs: number | null; max_bytes: number | null }

/**
 * IntelMQ's shape of `list queues` (source_queue and destination_queues as [name, count]), and
 * ours beside it: queue_fill, each of the bot's queues against its limits.
 */
type QueueList = Record<string, { source_queue?: [string, number]; destination_queues?: [string, number][]; queue_fill?: Record<string, QueueFill> }>;

interface QueueCounts { list: QueueList; counts: Map<string, number>; fill: Map<string, QueueFill> }

async function queueCounts(ctx: Ctx): Promise<QueueCounts> {
  const config = ctx.config();
  const broker = await ctx.broker();
  const queues = [...configuredQueues(config)];
  const counts = new Map<string, number>();
  const fill = new Map<string, QueueFill>();
  await Promise.all(queues.map(async (q) => {
    const i = await broker.queues.info(q);
    counts.set(q, i.depth);
    // A queue not created yet: the limits it will be created with.
    const s = i.exists ? null : queueSettingsFor(config, q);
    fill.set(q, {
      messages: i.stored, bytes: i.bytes,
      max_msgs: s ? (s.maxMsgs !== undefined && s.maxMsgs > 0 ? s.maxMsgs : null) : i.maxMsgs,
      max_bytes: s ? s.maxBytes ?? BROKER_DEFAULTS.maxBytes : i.maxBytes,
    });
  }));
  const list: QueueList = {};
  for (const id of Object.keys(config.bots)) {
    const q = queuesOf(config, id);
    const e: QueueList[string] = {};
    if (q.source) e.source_queue = [q.source, counts.get(q.source) ?? 0];
    e.destination_queues = q.destinations.map((d) => [d, counts.get(d) ?? 0]);
    e.queue_fill = Object.fromEntries([...(q.source ? [q.source] : []), ...q.destinations].map((n) => [n, fill.get(n)!]));
    list[id] = e;
  }
  return { list, counts, fill };
}

function nonZero(list: QueueList): QueueList {
  const out: QueueList = {};
  for (const [id, e] of Object.entries(list)) {
    const n: QueueList[string] = {};
    if (e.source_queue && e.source_queue[1] > 0) n.source_queue = e.source_queue;
    const d = (e.destination_queues ?? []).filter(([, c]) => c > 0);
    if (d.length) n.destination_queues = d;
    if (n.source_queue || n.destination_queues) {
      const shown = [...(n.source_queue ? [n.source_queue[0]] : []), ...d.map(([name]) => name)];
      n.queue_fill = Object.fromEntries(shown.map((name) => [name, e.queue_fill![name]!]));
      out[id] = n;
    }
  }
  return out;
}

/** 1536 -> "1.5 KiB". */
function sizeText(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * IntelMQ's text of `list queues`: `<queue> - <count>` per queue, by name (case-insensitive),
 * followed by its fill against its limits: `(3 of 10 messages, 1.2 KiB of 1.0 GiB)`.
 */
function queueText(c: QueueCounts, nonZeroOnly: boolean): string[] {
  return [...c.counts.entries()]
    .filter(([, n]) => n > 0 || !nonZeroOnly)
    .sort(([a], [b]) => a.toLowerCase().localeCompare(b.toLowerCase()) || a.localeCompare(b))
    .map(([q, n]) => {
      const f = c.fill.get(q)!;
      const msgs = f.max_msgs === null ? "" : `${f.messages} of ${f.max_msgs} messages, `;
      const bytes = f.max_bytes === null ? sizeText(f.bytes) : `${sizeText(f.bytes)} of ${sizeText(f.max_bytes)}`;
      return `${q} - ${n} (${msgs}${bytes})`;
    });
}

async function listQueuesCmd(ctx: Ctx, opts: { nonZero?: boolean; sum?: boolean; count?: boolean }): Promise<number> {
  const c = await queueCounts(ctx);
  const { list, counts } = c;
  if (opts.sum || opts.count) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    ctx.out.result({ "total-messages": total }, () => [String(total)]);
    return 0;
  }
  const shown = opts.nonZero ? nonZero(list) : list;
  ctx.out.result(shown, () => queueText(c, !!opts.nonZero));
  return 0;
}

async function clearCmd(ctx: Ctx, queue: string): Promise<number> {
  const config = ctx.config();
  if (!configuredQueues(config).has(queue)) {
    ctx.out.error(`Queue ${queue} does not exist!`);
    ctx.out.result("not-found");
    return 2;
  }
  try {
    const broker = await ctx.broker();
    ctx.out.info(`Clearing queue ${queue}.`);
    await broker.queues.purge(queue);
    ctx.out.info(`Successfully cleared queue ${queue}.`);
    ctx.out.result("success");
    return 0;
  } catch (err) {
    ctx.out.error(`Error while clearing queue ${queue}: ${errorMessage(err)}`);
    ctx.out.result("error");
    return 1;
  }
}

async function replayCmd(ctx: Ctx, queue: string, o: { since?: string; until?: string; to?: string; dryRun?: boolean }): Promise<number> {
  const when = (text: string | undefined): Date | undefined => {
    if (text === undefined) return undefined;
    const d = parseWhen(text);
    if (!d) throw new UsageError(`not a time: ${JSON.stringify(text)} (${REPLAY_TIME_HELP})`);
    return d;
  };
  const since = when(o.since);
  const until = when(o.until);
  const target = o.to ?? queue;
  const config = ctx.config();
  const notFound = (q: string): number => {
    ctx.out.error(`Queue ${q} does not exist!`);
    ctx.out.result("not-found");
    return 2;
  };
  // Unknown queues are refused before connecting.
  const unknown = [queue, target].find((q) => !configuredQueues(config).has(q));
  if (unknown !== undefined) return notFound(unknown);
  try {
    const outcome = await replayQueue(await ctx.broker(), config, queue, { target, dryRun: !!o.dryRun, ...(since ? { since } : {}), ...(until ? { until } : {}) });
    if (outcome.kind === "not-found") return notFound(outcome.queue);
    if (outcome.kind === "not-archived") {
      // Nothing found because nothing is kept: say why, not "0 messages".
      ctx.out.error(outcome.message);
      ctx.out.result("not-archived");
      return 1;
    }
    const r = outcome.result;
    const range = r.firstSeq === null ? "" : ` (archive sequences ${r.firstSeq} to ${r.lastSeq})`;
    ctx.out.result({
      queue: r.queue, target: r.target, dry_run: !!o.dryRun, replayed: r.replayed, duplicates: r.duplicates, missing: r.missing,
      first_seq: r.firstSeq, last_seq: r.lastSeq,
    }, () => [
      o.dryRun
        ? `Would replay ${r.replayed} messages of queue ${queue} into ${target}${range}.`
        : `Replayed ${r.replayed} messages of queue ${queue} into ${target}${range}.`,
      ...(r.duplicates > 0 ? [`${r.duplicates} were replayed moments ago already: dropped as duplicates.`] : []),
      ...(r.missing > 0 ? [`${r.missing} large payloads had expired from the object store: skipped.`] : []),
    ]);
    return 0;
  } catch (err) {
    ctx.out.error(`Error while replaying queue ${queue}: ${errorMessage(err)}`);
    ctx.out.result("error");
    return 1;
  }
}

// ---------------------------------------------------------------- list bots, check, debug

async function listBotsCmd(ctx: Ctx, opts: { configured?: boolean; nonZero?: boolean }): Promise<number> {
  if (opts.configured) {
    const config = ctx.config();
    const r = Object.values(config.bots)
      .filter((b) => !opts.nonZero || b.enabled)
      .map((b) => ({ id: b.id, description: b.description ?? "" }));
    ctx.out.result(r, () => r.map((b) => `Bot ID: ${b.id}\nDescription: ${b.description}`));
    return 0;
  }
  const bots = await installedBots();
  ctx.out.result(bots, () => {
    const lines: string[] = [];
    for (const [group, list] of Object.entries(bots)) {
      for (const [name, b] of Object.entries(list)) lines.push(`${group}: ${name} (${b.module})`, `    ${b.description}`);
    }
    return lines;
  });
  return 0;
}

/** `k8s`: write the folder of Kubernetes manifests, or (--check) tell which of its files are stale. */
function k8sCmd(ctx: Ctx, o: { out?: string; check?: boolean }): number {
  const dir = resolve(o.out ?? join(PROJECT_ROOT, "deploy", "k8s"));
  const config = ctx.config();
  const runtimeFile = config.file ?? ctx.paths.runtimeConfFile;
  const harmonizationFile = join(dirname(runtimeFile), "harmonization.conf");
  const outName = relative(PROJECT_ROOT, dir).split(sep).join("/") || ".";
  const files = k8sFiles(config, {
    outName,
    runtimeYaml: readFileSync(runtimeFile, "utf8"),
    harmonization: existsSync(harmonizationFile) ? readFileSync(harmonizationFile, "utf8") : null,
  });
  if (o.check) {
    const stale = Object.entries(files).filter(([f, text]) => {
      try { return readFileSync(join(dir, f), "utf8") !== text; } catch { return true; }
    }).map(([f]) => f);
    ctx.out.result({ dir, stale }, () => (stale.length ? stale.map((f) => `${join(dir, f)} is stale`) : [`${dir} is up to date.`]));
    if (stale.length && !ctx.out.json) ctx.out.alert(`Run npx intelmqctl k8s --out ${outName} to write it again.`);
    return stale.length ? 1 : 0;
  }
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  ctx.out.info(`Wrote ${Object.keys(files).join(", ")} in ${dir}.`);
  ctx.out.info(`The bots' credentials: npx intelmqctl nats-config --out ${join(dir, "nats")}; deploy/k8s/README.md of the project has the steps.`);
  return 0;
}

async function checkCmd(ctx: Ctx, opts: { quiet?: boolean; noConnections?: boolean; fix?: boolean }): Promise<number> {
  const r = await runCheck(ctx.paths, { noConnections: !!opts.noConnections, connect: (cfg) => connectCtl(cfg), fix: !!opts.fix });
  const shown = opts.quiet ? r.lines.filter(([l]) => l === "warning" || l === "error") : r.lines;
  ctx.out.result({ status: r.status, lines: shown }, () => [
    ...shown.map(([l, m]) => `${l.toUpperCase()}: ${m}`),
    ...(r.status === "success" && !opts.quiet && !r.lines.some(([l]) => l === "warning") ? ["No issues found."] : []),
  ]);
  return r.status === "success" ? 0 : 1;
}

function debugCmd(ctx: Ctx, opts: { getPaths?: boolean; getEnvironmentVariables?: boolean }): number {
  const all = !opts.getPaths && !opts.getEnvironmentVariables;
  const p = ctx.paths;
  const out: Record<string, Record<string, unknown>> = {};
  if (all || opts.getPaths) {
    let servers: string[];
    try { servers = natsOptions(ctx.config()).servers; } catch { servers = natsOptions(null).servers; }
    out.paths = {
      ROOT_DIR: p.root,
      CONFIG_DIR: p.configDir,
      RUNTIME_CONF_FILE: p.runtimeConfFile,
      HARMONIZATION_CONF_FILE: p.harmonizationConfFile,
      FEEDS_FILE: p.feedsFile,
      DEFAULT_LOGGING_LEVEL: "INFO",
      DEFAULT_LOGGING_PATH: p.logDir,
      VAR_STATE_PATH: p.stateDir,
      STATE_FILE_PATH: join(p.root, "var", "lib", "state.json"),
      VAR_RUN_PATH: p.runDir,
      NATS_SERVERS: servers.join(","),
      // Paths of runtime.yaml under /opt/intelmq (IntelMQ's root) that the file outputs take under ROOT_DIR.
      OPT_INTELMQ_MAPPED_TO: p.root,
    };
    let remapped: ReturnType<typeof remappedPaths> = [];
    try { remapped = remappedPaths(ctx.config()); } catch { /* a broken runtime.yaml: check says why */ }
    out.remapped_paths = Object.fromEntries(remapped.map((r) => [`${r.botId}.${r.parameter}`, { configured: r.configured, path: r.path, default: r.isDefault }]));
  }
  if (all || opts.getEnvironmentVariables) {
    out.environment_variables = {};
    // Never print secrets (NATS_PASSWORD, NATS_TOKEN).
    for (const k of ["INTELMQ_ROOT_DIR", "INTELMQ_PATHS_NO_OPT", "INTELMQ_PATHS_OPT", "INTELMQ_MANAGER_CONTROLLER_CMD", "NATS_URL", "NATS_USER", "NATS_CREDS", "NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY", "PATH", "NODE_PATH"]) {
      const v = process.env[k];
      out.environment_variables[k] = v === undefined ? null : k === "NATS_URL" ? v.split(",").map((u) => maskUrl(u.trim())).join(",") : v;
    }
  }
  ctx.out.result(out, () => {
    const lines: string[] = [];
    if (out.paths) lines.push("Paths:", ...Object.entries(out.paths).map(([k, v]) => `${k}: ${String(v)}`));
    const remapped = Object.entries((out.remapped_paths ?? {}) as Record<string, { configured: string; path: string; default: boolean }>);
    if (remapped.length) {
      lines.push(`Paths of runtime.yaml under ${INTELMQ_OPT_ROOT}, taken under ${p.root}:`);
      for (const [k, r] of remapped) lines.push(`${k}: ${r.configured}${r.default ? " (default)" : ""} -> ${r.path}`);
    }
    if (out.environment_variables) lines.push("Environment variables:", ...Object.entries(out.environment_variables).map(([k, v]) => `${k}: ${v === null ? "" : String(v)}`));
    return lines;
  });
  return 0;
}

const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;

/** IntelMQ's log date: "2024-09-16 10:00:00,123". */
function logDate(t: unknown): string {
  const d = new Date(typeof t === "number" || typeof t === "string" ? t : NaN);
  if (Number.isNaN(d.getTime())) return String(t ?? "");
  return d.toISOString().replace("T", " ").replace(/\.(\d{3})Z$/, ",$1");
}

/**
 * One pino line in IntelMQ's log entry shape, or null when it is not JSON or below `min`. A logged
 * error is its one-line reason in extended_message (`type: message`), its stack when `verbose`.
 */
function logEntry(line: string, id: string, min: number, verbose: boolean): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return null; }
  const lvl = PINO_LEVEL[String(o.level)] ?? "INFO";
  if (LOG_LEVELS.indexOf(lvl) < min) return null;
  const e: Record<string, unknown> = {
    date: logDate(o.time), bot_id: typeof o.bot_id === "string" ? o.bot_id : id, thread_id: null, log_level: lvl, message: String(o.msg ?? ""),
  };
  const err = o.err && typeof o.err === "object" ? (o.err as LoggedError) : null;
  if (err) {
    const extended = verbose && typeof err.stack === "string" ? err.stack : loggedReason(err);
    if (extended !== null) e.extended_message = extended;
  }
  return e;
}

/** How long `log` waits for NATS before it reads the file instead. */
const LOG_STREAM_WAIT_MS = 5000;

/** The bot's lines in the logs stream; [] when NATS is unreachable or the stream has none. */
async function streamLogLines(ctx: Ctx, id: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ctx.broker().then((b) => b.logs.read(id, Number.POSITIVE_INFINITY)),
      new Promise<string[]>((resolve) => { timer = setTimeout(() => resolve([]), LOG_STREAM_WAIT_MS); }),
    ]);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `log <bot-id> [lines] [level]`: the last lines of a bot at or above a level, from the logs stream
 * (any host), or from var/log/<bot-id>.log when NATS is unreachable or the stream has none of it.
 */
async function logCmd(ctx: Ctx, id: string, linesArg: string | undefined, levelArg: string | undefined): Promise<number> {
  requireBot(ctx, id);
  const n = linesArg === undefined ? 10 : Number.parseInt(linesArg, 10);
  const level = (levelArg ?? "INFO").toUpperCase();
  const min = LOG_LEVELS.indexOf(level as (typeof LOG_LEVELS)[number]);
  if (!Number.isInteger(n) || min < 0) throw new UsageError(`log: invalid number of lines ${JSON.stringify(linesArg)} or level ${JSON.stringify(levelArg)} (${LOG_LEVELS.join(", ")})`);
  let lines = await streamLogLines(ctx, id);
  if (lines.length === 0) {
    const file = join(ctx.paths.logDir, `${id}.log`);
    try {
      lines = readFileSync(file, "utf8").split("\n");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        // As IntelMQ: a bot that never ran has no log yet; that is not an error.
        const none = { date: logDate(Date.now()), bot_id: id, thread_id: null, log_level: "INFO", message: "No log file exists (yet)." };
        ctx.out.result([none], () => [`${none.date} - ${id} - INFO - ${none.message}`]);
        return 0;
      }
      ctx.out.error(`File ${file} is not readable: ${errorMessage(err)}`);
      ctx.out.result("error");
      return 1;
    }
  }
  const entries: Record<string, unknown>[] = [];
  for (const line of lines) {
    const e = logEntry(line, id, min, ctx.out.verbose);
    if (e) entries.push(e);
  }
  const shown = n < 0 ? entries : entries.slice(Math.max(0, entries.length - n));
  ctx.out.result(shown, () => shown.flatMap((e) => [
    `${String(e.date)} - ${String(e.bot_id)} - ${String(e.log_level)} - ${String(e.message)}`,
    ...(typeof e.extended_message === "string" ? [e.extended_message] : []),
  ]));
  return 0;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------- command line

/**
 * Run intelmqctl with `argv` (process.argv shape); resolves with the exit code. `io` takes its
 * output instead of the process's streams (the API runs commands this way, as intelmq-api runs
 * `intelmqctl --type json`).
 */
export async function main(argv: string[], io: CtlIo = PROCESS_IO): Promise<number> {
  let run: ((ctx: Ctx) => Promise<number> | number) | null = null;
  const program = new Command()
    .name("intelmqctl")
    .description("Control IntelMQ's bots and queues on NATS JetStream")
    .version(version(), "-v, --version", "print the version")
    .addOption(new Option("-t, --type <type>", "output type").choices(["text", "json", "python"]).default("text"))
    .option("-q, --quiet", "only print errors (and the results)")
    .option("--verbose", "show the stacks of errors (log, run, failures of the tool)")
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) });
  const groupOpt = () => new Option("--group <group>", "only the bots of this group").choices(Object.keys(BOT_GROUP));

  for (const action of ["start", "stop", "restart", "reload"] as const) {
    program.command(action)
      .description(`${action} a bot or the botnet (all bots, or one group)`)
      .argument("[bot-id]", "bot id")
      .addOption(groupOpt())
      .action((id: string | undefined, o: { group?: GroupName }) => { run = (ctx) => actionCmd(ctx, action, id, o.group); });
  }
  program.command("status")
    .description("status of a bot or the botnet")
    .argument("[bot-id]", "bot id")
    .addOption(groupOpt())
    .option("-d, --details", "per bot: status, the control services managing it and its instances")
    .option("--instances", "same as --details")
    .action((id: string | undefined, o: { group?: GroupName; details?: boolean; instances?: boolean }) => {
      run = (ctx) => {
        if (id) requireBot(ctx, id);
        return statusCmd(ctx, id, o.group, !!(o.details || o.instances));
      };
    });
  program.command("enable").description("enable a bot in runtime.yaml").argument("<bot-id>")
    .action((id: string) => { run = (ctx) => enableCmd(ctx, id, true); });
  program.command("disable").description("disable a bot in runtime.yaml").argument("<bot-id>")
    .action((id: string) => { run = (ctx) => enableCmd(ctx, id, false); });
  program.command("list")
    .description("list installed or configured bots, queues, or queues and statuses")
    .argument("<kind>", "bots | queues | queues-and-status")
    .option("-c, --configured", "bots: only the bots of runtime.yaml")
    .option("-q, --non-zero", "bots: skip disabled bots; queues: only non-empty queues")
    .option("-s, --sum", "queues: only the total number of messages")
    .option("--count", "same as --sum")
    .action((kind: string, o: { configured?: boolean; nonZero?: boolean; sum?: boolean; count?: boolean }) => {
      if (kind === "bots") run = (ctx) => listBotsCmd(ctx, o);
      else if (kind === "queues") run = (ctx) => listQueuesCmd(ctx, o);
      else if (kind === "queues-and-status") {
        run = async (ctx) => {
          const c = await queueCounts(ctx);
          const { list } = c;
          const control = await ctx.control();
          const views = await control.statuses(Object.keys(ctx.config().bots), (x) => isEnabled(ctx, x), { all: true });
          const statuses: Record<string, BotStatus> = {};
          for (const [k, v] of views) statuses[k] = v.status;
          const shown = o.nonZero ? nonZero(list) : list;
          // IntelMQ's text: the queues, then the botnet's status lines by bot id.
          const byId = [...views.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          ctx.out.result([shown, statuses], () => [...queueText(c, !!o.nonZero), ...byId.map(statusLine)]);
          return 0;
        };
      } else run = () => { throw new UsageError(`list: unknown kind ${JSON.stringify(kind)} (bots, queues, queues-and-status)`); };
    });
  const feed = program.command("feed").description("the feed catalogue (etc/feeds.yaml): list feeds, add one to runtime.yaml");
  feed.command("list").description("every catalogue feed: provider, feed, status (runnable, needs an account, needs a collector we lack)")
    .option("--runnable", "only the feeds that run as they are")
    .action((o: { runnable?: boolean }) => { run = (ctx) => feedListCmd(ctx, !!o.runnable); });
  feed.command("add").description("write a catalogue feed's collector and parser into runtime.yaml")
    .argument("<provider>").argument("<feed>")
    .option("--id <prefix>", "bot id prefix: <prefix>-collector and <prefix>-parser (default: provider and feed)")
    .option("--param <key=value>", "a parameter: key=value, collector.key=value or parser.key=value (repeatable)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--to <queue>", "the parser's destination queue (default: where the configured parsers send, the first expert)")
    .action((provider: string, name: string, o: { id?: string; param: string[]; to?: string }) => {
      run = (ctx) => feedAddCmd(ctx, provider, name, o);
    });
  program.command("log")
    .description("the last lines of a bot's log (the logs stream, else var/log/<bot-id>.log) at or above a level")
    .argument("<bot-id>")
    .argument("[number-of-lines]", "how many (-1: all)", "10")
    .argument("[log-level]", "DEBUG, INFO, WARNING, ERROR or CRITICAL", "INFO")
    .action((id: string, n: string, level: string) => { run = (ctx) => logCmd(ctx, id, n, level); });
  program.command("clear").description("empty a queue").argument("<queue>")
    .action((q: string) => { run = (ctx) => clearCmd(ctx, q); });
  program.command("replay")
    .description("publish again what the archive kept of a queue (the queues collectors feed), oldest first")
    .argument("<queue>", "the archived queue")
    .option("--since <time>", "from this time (ISO 8601, UTC unless a zone is given; or an age: 30m, 2h, 1d)")
    .option("--until <time>", "up to this time (default: what is archived when the replay starts)")
    .option("--to <queue>", "publish into this queue instead")
    .option("-n, --dry-run", "only count what would be replayed")
    .action((q: string, o: { since?: string; until?: string; to?: string; dryRun?: boolean }) => { run = (ctx) => replayCmd(ctx, q, o); });
  program.command("run")
    .description("debug a bot: run it in the foreground, or `message get|pop|send [msg]`, or `process [-m msg] [-d] [-s]` once")
    .argument("<bot-id>")
    .argument("[subcommand]", "console | message | process (none: run the bot in the foreground)")
    .argument("[args...]", "message: get | pop | send <JSON or file>")
    .option("-l, --loglevel <level>", "log level of the run")
    .option("-m, --msg <message>", "process: this message (JSON or a file) instead of the next one in the queue")
    .option("-d, --dryrun", "process: send and acknowledge nothing")
    .option("-s, --show-sent", "process: print the messages sent")
    .action((id: string, sub: string | undefined, args: string[], o: { loglevel?: string; msg?: string; dryrun?: boolean; showSent?: boolean }) => {
      run = async (ctx) => {
        requireBot(ctx, id);
        let action: RunAction;
        if (sub === undefined) action = { kind: "foreground", ...(o.loglevel ? { level: o.loglevel } : {}) };
        else if (sub === "console") action = { kind: "console" };
        else if (sub === "message") {
          const what = args[0];
          if (what !== "get" && what !== "pop" && what !== "send") throw new UsageError("run: message needs get, pop or send");
          action = { kind: "message", action: what, ...(args[1] !== undefined ? { msg: args[1] } : {}) };
        } else if (sub === "process") {
          action = { kind: "process", dryrun: !!o.dryrun, show: !!o.showSent, ...(o.msg !== undefined ? { msg: o.msg } : {}), ...(o.loglevel ? { level: o.loglevel } : {}) };
        } else throw new UsageError(`run: unknown subcommand ${JSON.stringify(sub)} (console, message, process)`);
        return runBotCmd({
          config: () => ctx.config(), broker: () => ctx.broker(), control: () => ctx.control(),
          print: (line) => ctx.out.io.stdout(`${line}\n`), verbose: ctx.out.verbose,
          ...(ctx.out.io.runWaitMs !== undefined ? { waitMs: ctx.out.io.runWaitMs } : {}),
          writeLog: (text, toStdout) => (toStdout ? ctx.out.io.stdout(text) : ctx.out.io.stderr(text)),
        }, id, action);
      };
    });
  program.command("check")
    .description("check the configuration, the bots and the broker")
    .option("-q, --quiet", "only warnings and errors")
    .option("-C, --no-connections", "do not connect to NATS")
    .option("--fix", "give existing queues the limits and replicas of runtime.yaml now (as a bot using them does when it starts)")
    .action((o: { quiet?: boolean; connections?: boolean; fix?: boolean }) => { run = (ctx) => checkCmd(ctx, { quiet: o.quiet ?? false, noConnections: o.connections === false, fix: o.fix ?? false }); });
  program.command("compose")
    .description("a docker-compose file with one service per bot of runtime.yaml (instances as replicas) and NATS with JetStream")
    .option("-o, --out <file>", "write it to this file (default: stdout; relative paths in it are from the file's folder)")
    .option("--cluster", "the override for a three-node NATS cluster instead (use with the main file)")
    .option("--secure <dir>", "the override for least-privilege credentials and TLS instead: DIR is what `nats-config --out` wrote (use with the main file)")
    .action((o: { out?: string; cluster?: boolean; secure?: string }) => {
      run = (ctx) => {
        const file = o.out === undefined ? null : resolve(o.out);
        const text = composeFile(ctx.config(), { dir: file ? dirname(file) : process.cwd(), root: PROJECT_ROOT, configDir: ctx.paths.configDir, cluster: !!o.cluster, ...(o.secure !== undefined ? { secure: resolve(o.secure) } : {}) });
        if (file) {
          writeFileSync(file, text);
          ctx.out.info(`Wrote ${file}.`);
        } else ctx.out.io.stdout(text);
        return 0;
      };
    });
  program.command("k8s")
    .description("Kubernetes manifests for the bots of runtime.yaml: a kustomization with one Deployment per bot (instances as replicas), and values for the NATS Helm chart")
    .option("-o, --out <dir>", "the folder to write (default: deploy/k8s of the project)")
    .option("--check", "write nothing: list the files of the folder that differ from what would be written, and exit 1 if any")
    .action((o: { out?: string; check?: boolean }) => { run = (ctx) => k8sCmd(ctx, o); });
  program.command("update-database")
    .description("download the database of a bot (or of every bot of a module) with a local database, verify it and replace the file; running bots reload it")
    .argument("<bot-id|module>")
    .action((target: string) => {
      run = (ctx) => runUpdateDatabase(target, {
        configFile: ctx.paths.runtimeConfFile, verbose: ctx.out.verbose, out: { info: (l) => ctx.out.info(l), error: (l) => ctx.out.alert(l) },
      });
    });
  program.command("nats-config")
    .description("a nats-server configuration with least-privilege NKey users, and one credentials file per bot id (plus control and admin)")
    .requiredOption("-o, --out <dir>", "write DIR/nats-server.conf and DIR/creds/<bot-id>.creds")
    .option("--tls-cert <file>", "the server's TLS certificate (a tls block in the configuration)")
    .option("--tls-key <file>", "the server's TLS key")
    .option("--tls-ca <file>", "the CA of clients' certificates")
    .option("--tls-verify", "require client certificates")
    .option("--store-dir <dir>", "JetStream's store dir (given here rather than with -sd, the server can reload the configuration)")
    .action((o: { out: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; tlsVerify?: boolean; storeDir?: string }) => {
      run = (ctx) => {
        if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError("nats-config: --tls-cert and --tls-key go together");
        const dir = resolve(o.out);
        const tls = o.tlsCert !== undefined && o.tlsKey !== undefined
          ? { cert: resolve(o.tlsCert), key: resolve(o.tlsKey), ...(o.tlsCa !== undefined ? { ca: resolve(o.tlsCa) } : {}), verify: !!o.tlsVerify }
          : undefined;
        const users = writeNatsConfig(ctx.config(), dir, { ...(tls ? { tls } : {}), ...(o.storeDir !== undefined ? { storeDir: resolve(o.storeDir) } : {}) });
        ctx.out.info(`Wrote ${join(dir, "nats-server.conf")} (its users alone in authorization.conf) and ${users.length} credentials files in ${join(dir, "creds")}.`);
        ctx.out.info(`Bots find theirs with nats_credentials_dir: ${join(dir, "creds")} under global in runtime.yaml; reload a running server with nats-server --signal reload.`);
        return 0;
      };
    });
  program.command("upgrade-config")
    .description("convert an IntelMQ configuration (1.x/2.x runtime.conf, pipeline.conf, defaults.conf, or 3.x runtime.yaml) into runtime.yaml, applying IntelMQ's upgrade steps")
    .option("--from <dir>", "the folder of IntelMQ's configuration files (default: the configuration folder)")
    .option("--to <file>", "the runtime.yaml to write (default: the configured one)")
    .option("-p, --previous <version>", "the IntelMQ release the configuration comes from (default: told from its layout)")
    .option("-d, --dry-run", "only print what would change (notes and a diff); write nothing")
    .action((o: { from?: string; to?: string; previous?: string; dryRun?: boolean }) => {
      run = (ctx) => upgradeConfigCmd({ paths: ctx.paths, json: ctx.out.json, info: (l) => ctx.out.info(l), result: (v, t) => ctx.out.result(v, t) }, o);
    });
  program.command("debug")
    .description("paths and environment variables")
    .option("--get-paths", "only the paths")
    .option("--get-environment-variables", "only the environment variables")
    .action((o: { getPaths?: boolean; getEnvironmentVariables?: boolean }) => { run = (ctx) => debugCmd(ctx, o); });

  // -t/--type and --verbose are also accepted after the command (`intelmqctl status -t json`).
  let subType: string | undefined;
  let subVerbose = false;
  for (const c of program.commands) {
    c.addOption(new Option("-t, --type <type>", "output type").choices(["text", "json", "python"]));
    c.option("--verbose", "show the stacks of errors");
  }
  program.hook("preAction", (_root, cmd) => {
    const o = cmd.opts<{ type?: string; verbose?: boolean }>();
    if (o.type) subType = o.type;
    if (o.verbose) subVerbose = true;
  });

  let code: number | null;
  try {
    code = parseArgs(program, argv);
  } catch (err) {
    io.stderr(`intelmqctl: ${errorMessage(err)}\n`);
    return 2;
  }
  if (code !== null) return code;
  if (!run) {
    io.stdout(program.helpInformation());
    return 2;
  }
  const g = program.opts<{ type: string; quiet?: boolean; verbose?: boolean }>();
  const ctx = makeCtx(new Output((subType ?? g.type) !== "text", !!g.quiet, !!g.verbose || subVerbose, io));
  try {
    return await (run as (ctx: Ctx) => Promise<number> | number)(ctx);
  } catch (err) {
    io.stderr(`intelmqctl: ${ctx.out.verbose && err instanceof Error && err.stack ? err.stack : errorMessage(err)}\n`);
    return err instanceof UsageError || err instanceof FeedUsageError ? 2 : 1;
  } finally {
    await ctx.close();
  }
}

/** The command-line program: runs main() on process.argv and exits with its code (bin/intelmqctl.mjs). */
export function cli(): void {
  // `intelmqctl status | head -1`: the reader may go away; failures nobody caught are one line.
  guardProcess("intelmqctl", () => verboseArg(process.argv));
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`intelmqctl: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
}
