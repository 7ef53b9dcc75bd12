// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The local process manager: one `intelmq-bot <id>` process per wanted instance of a bot, output
 * appended to var/log/<bot-id>.log, crashed processes restarted with exponential backoff, stops
 * graceful (SIGTERM, wait for the drain, then SIGKILL). A process counts as running from its
 * first heartbeat on, which it reports over the IPC channel the manager gives it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { BotStatus, ManagedBot } from "../../shared/control-protocol/index.js";
import { botCommand, type RuntimeConfig } from "../../shared/config/index.js";

/** What a process slot is doing. */
export type SlotState = "starting" | "running" | "stopping" | "stopped" | "error";

export interface ProcessManagerOptions {
  /** INTELMQ_ROOT_DIR of the bots (logs go to <root>/var/log). */
  rootDir: string;
  /** runtime.yaml passed to the bots with --config (default: theirs, under rootDir). */
  configFile?: string;
  /** Host name the bots report (INTELMQ_HOST of the children). */
  host: string;
  log: Logger;
  /** Environment of the children (default process.env); INTELMQ_ROOT_DIR, INTELMQ_HOST and INTELMQ_PARENT_PID are set on top. */
  env?: NodeJS.ProcessEnv;
  /** The command of one bot process (default: node bin/intelmq-bot.mjs <id>). */
  command?: (botId: string) => { cmd: string; args: string[] };
  /** How long a stopping bot may drain before SIGKILL (ms, default 15000). */
  stopTimeoutMs?: number;
  /** First restart delay after a crash (ms, default 1000); doubles up to maxBackoffMs. */
  backoffMs?: number;
  /** Longest restart delay (ms, default 60000). */
  maxBackoffMs?: number;
  /** A process that ran this long was healthy: its next crash starts the backoff over (ms, default 60000). */
  healthyMs?: number;
  /** How long start and restart wait for a new process's first heartbeat (ms, default 30000). */
  startTimeoutMs?: number;
}

class Slot {
  child: ChildProcess | null = null;
  pid = 0;
  state: SlotState = "stopped";
  since = new Date().toISOString();
  restarts = 0;
  spawnedAt = 0;
  backoffMs: number;
  error: string | undefined;
  exited: Promise<void> = Promise.resolve();
  restartTimer: NodeJS.Timeout | null = null;
  constructor(backoffMs: number) { this.backoffMs = backoffMs; }
  set(state: SlotState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = new Date().toISOString();
  }
  get alive(): boolean { return this.child !== null; }
  clearTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }
}

interface Bot {
  id: string;
  /** Its IntelMQ module (for its module's node flags). */
  module: string;
  enabled: boolean;
  instances: number;
  /** Should run: set by start, cleared by stop. */
  wanted: boolean;
  slots: Slot[];
  error: string | undefined;
  /** The last crash reported at warn level: the same one again is logged at info only. */
  reported: string | undefined;
}

/** Runs and watches the bot processes of one host. */
export class ProcessManager {
  readonly #o: Required<Omit<ProcessManagerOptions, "configFile" | "command" | "env">> & Pick<ProcessManagerOptions, "configFile" | "command" | "env">;
  readonly #bots = new Map<string, Bot>();
  #closing = false;
  // start/stop/restart/reload of the same manager run one after another.
  #ops: Promise<unknown> = Promise.resolve();

  constructor(opts: ProcessManagerOptions) {
    this.#o = {
      stopTimeoutMs: 15_000, backoffMs: 1000, maxBackoffMs: 60_000, healthyMs: 60_000, startTimeoutMs: 30_000, ...opts,
    };
    mkdirSync(join(this.#o.rootDir, "var", "log"), { recursive: true });
  }

  /** Ids of the managed bots, in configuration order. */
  get ids(): string[] {
    return [...this.#bots.keys()];
  }

  has(id: string): boolean {
    return this.#bots.has(id);
  }

  isEnabled(id: string): boolean {
    return this.#bots.get(id)?.enabled ?? false;
  }

  /**
   * Take the bots of a (re-read) runtime.yaml: every bot, or only `only`. New bots are added (not
   * started), enabled and instances are updated (running bots grow or shrink to their instances),
   * bots gone from the file are stopped and forgotten. Returns the ids that were removed.
   */
  setConfig(config: RuntimeConfig, only?: string[]): Promise<string[]> {
    return this.#op(async () => {
      const ids = Object.keys(config.bots).filter((id) => !only || only.includes(id));
      const removed = [...this.#bots.keys()].filter((id) => !ids.includes(id));
      for (const id of removed) {
        const bot = this.#bots.get(id)!;
        this.#o.log.info({ bot_id: id }, "bot is no longer in runtime.yaml, stopping it");
        bot.wanted = false;
        await Promise.all(bot.slots.map((s) => this.#terminate(bot, s)));
        this.#bots.delete(id);
      }
      for (const id of ids) {
        const entry = config.bots[id]!;
        let bot = this.#bots.get(id);
        if (!bot) {
          bot = { id, module: entry.module, enabled: entry.enabled, instances: entry.instances, wanted: false, slots: [], error: undefined, reported: undefined };
          this.#bots.set(id, bot);
          continue;
        }
        bot.enabled = entry.enabled;
        bot.module = entry.module;
        if (bot.instances !== entry.instances) {
          this.#o.log.info({ bot_id: id, from: bot.instances, to: entry.instances }, "instances changed");
          bot.instances = entry.instances;
          if (bot.wanted) await this.#fit(bot);
        }
      }
      return removed;
    });
  }

  /**
   * Start bots (default all managed). Disabled bots are skipped unless `explicit` (named by the
   * user). Unless `wait` is false, resolves once every new process sent its first heartbeat or
   * ended, or startTimeoutMs passed (then it is still "starting").
   */
  async start(ids?: string[], explicit = false, wait = true): Promise<void> {
    const spawned = await this.#op(async () => {
      const out: Spawned[] = [];
      for (const bot of this.#select(ids)) {
        if (!bot.enabled && !explicit) continue;
        bot.wanted = true;
        out.push(...(await this.#fit(bot)));
      }
      return out;
    });
    // Outside the chain of operations: a stop need not wait for a slow start.
    if (wait) await this.#settle(spawned);
  }

  /** Stop bots (default all): SIGTERM, wait for the drain up to stopTimeoutMs, then SIGKILL. */
  stop(ids?: string[]): Promise<void> {
    return this.#op(() => this.#stop(this.#select(ids)));
  }

  /** Stop, then start (named bots start even when disabled); waits as start does. */
  async restart(ids?: string[], explicit = false): Promise<void> {
    const spawned = await this.#op(async () => {
      const bots = this.#select(ids);
      const wasWanted = new Set(bots.filter((b) => b.wanted).map((b) => b.id));
      await this.#stop(bots);
      const out: Spawned[] = [];
      for (const bot of bots) {
        if (!bot.enabled && !explicit && !wasWanted.has(bot.id)) continue;
        bot.wanted = true;
        out.push(...(await this.#fit(bot)));
      }
      return out;
    });
    await this.#settle(spawned);
  }

  /** SIGHUP to every live process of the bots (default all): they re-read runtime.yaml. */
  reload(ids?: string[]): Promise<void> {
    return this.#op(async () => {
      for (const bot of this.#select(ids)) {
        for (const s of bot.slots) {
          if (s.child && s.state !== "stopping") {
            try { s.child.kill("SIGHUP"); } catch { /* just exited */ }
          }
        }
      }
    });
  }

  /** Stop everything and refuse new work (shutdown of the control service). */
  async close(): Promise<void> {
    this.#closing = true;
    const all = [...this.#bots.values()];
    for (const b of all) for (const s of b.slots) if (s.restartTimer) { clearTimeout(s.restartTimer); s.restartTimer = null; }
    await this.#ops.catch(() => undefined);
    await this.#stop(all);
  }

  /** Process ids of every live bot process. */
  pids(): number[] {
    const out: number[] = [];
    for (const b of this.#bots.values()) for (const s of b.slots) if (s.child) out.push(s.pid);
    return out;
  }

  /** The bots (default all managed) as the control protocol describes them. */
  status(ids?: string[]): Record<string, ManagedBot> {
    const out: Record<string, ManagedBot> = {};
    for (const bot of this.#select(ids)) {
      const m: ManagedBot = {
        bot_id: bot.id,
        status: this.#botStatus(bot),
        enabled: bot.enabled,
        instances_wanted: bot.instances,
        // Only slots with a process, or whose process ended in an error (it keeps that pid): a
        // stopped slot has no process to show.
        instances: bot.slots.filter((s) => s.state !== "stopped").map((s) => ({ pid: s.pid, state: s.state, restarts: s.restarts, since: s.since })),
      };
      if (bot.error !== undefined) m.error = bot.error;
      out[bot.id] = m;
    }
    return out;
  }

  // ---- internals ----------------------------------------------------------------------------

  #op<T>(f: () => Promise<T>): Promise<T> {
    const r = this.#ops.then(f, f);
    this.#ops = r.catch(() => undefined);
    return r;
  }

  #select(ids?: string[]): Bot[] {
    if (!ids) return [...this.#bots.values()];
    return ids.map((id) => this.#bots.get(id)).filter((b): b is Bot => b !== undefined);
  }

  #botStatus(bot: Bot): BotStatus {
    const live = bot.slots.filter((s) => s.child);
    if (live.some((s) => s.state === "running")) return "running";
    if (live.some((s) => s.state === "starting")) return "starting";
    if (bot.slots.some((s) => s.state === "error")) return "error";
    if (live.some((s) => s.state === "stopping")) return "stopping";
    return bot.enabled ? "stopped" : "disabled";
  }

  /** Make a wanted bot have exactly `instances` slots, each alive or about to restart; returns the spawned ones. */
  async #fit(bot: Bot): Promise<Spawned[]> {
    const extra = bot.slots.splice(bot.instances);
    await Promise.all(extra.map((s) => this.#terminate(bot, s)));
    while (bot.slots.length < bot.instances) bot.slots.push(new Slot(this.#o.backoffMs));
    const spawned: Spawned[] = [];
    for (const s of bot.slots) {
      if (s.child && s.state !== "stopping") {
        // Already up, or starting (by an earlier start or a restart after a crash): wait for it too.
        if (s.state === "starting") spawned.push({ slot: s, child: s.child });
        continue;
      }
      if (s.child) await s.exited;
      if (s.restartTimer) { clearTimeout(s.restartTimer); s.restartTimer = null; }
      spawned.push({ slot: s, child: this.#spawn(bot, s) });
    }
    return spawned;
  }

  async #stop(bots: Bot[]): Promise<void> {
    for (const bot of bots) bot.wanted = false;
    await Promise.all(bots.flatMap((bot) => bot.slots.map((s) => this.#terminate(bot, s))));
    for (const bot of bots) {
      bot.error = undefined;
      // Only the configured number of slots is kept, so that restarts counts stay meaningful.
      bot.slots.splice(bot.instances);
    }
  }

  async #terminate(bot: Bot, s: Slot): Promise<void> {
    s.clearTimers();
    const child = s.child;
    if (!child) {
      s.set("stopped");
      return;
    }
    s.set("stopping");
    try { child.kill("SIGTERM"); } catch { /* gone already */ }
    const killer = setTimeout(() => {
      this.#o.log.warn({ bot_id: bot.id, bot_pid: s.pid, after_ms: this.#o.stopTimeoutMs }, "bot did not stop in time, killing it");
      try { child.kill("SIGKILL"); } catch { /* gone */ }
    }, this.#o.stopTimeoutMs);
    await s.exited;
    clearTimeout(killer);
  }

  #spawn(bot: Bot, s: Slot): ChildProcess {
    const std = botCommand(bot.id, this.#o.configFile ? ["--config", this.#o.configFile] : [], bot.module);
    const { cmd, args } = this.#o.command?.(bot.id) ?? { cmd: std.command, args: std.args };
    const env = {
      ...std.env,
      ...(this.#o.env ?? process.env),
      INTELMQ_ROOT_DIR: this.#o.rootDir,
      INTELMQ_HOST: this.#o.host,
      INTELMQ_PARENT_PID: String(process.pid),
    };
    const logFile = join(this.#o.rootDir, "var", "log", `${bot.id}.log`);
    let fd: number | "ignore" = "ignore";
    try { fd = openSync(logFile, "a"); } catch (err) {
      this.#o.log.warn({ bot_id: bot.id, file: logFile, err: String(err) }, "cannot open the log file, output is dropped");
    }
    // Own process group: a Ctrl-C in the terminal reaches the manager, which stops the bots in order.
    // The IPC channel carries the bot's "up" (its first heartbeat) and closes when we end.
    const child = spawn(cmd, args, { cwd: this.#o.rootDir, env, stdio: ["ignore", fd, fd, "ipc"], detached: true });
    if (typeof fd === "number") closeSync(fd);
    s.child = child;
    s.pid = child.pid ?? 0;
    s.spawnedAt = Date.now();
    s.set("starting");
    let resolveExit!: () => void;
    s.exited = new Promise<void>((r) => { resolveExit = r; });
    let ended = false;
    const onEnd = (reason: string) => {
      if (ended) return;
      ended = true;
      this.#exited(bot, s, child, reason);
      resolveExit();
    };
    child.once("error", (err) => onEnd(`could not start: ${err.message}`));
    child.once("exit", (code, signal) => onEnd(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.on("message", (m: unknown) => {
      if (m && typeof m === "object" && (m as { intelmq?: unknown }).intelmq === "up" && s.child === child && s.state === "starting") {
        s.set("running");
        this.#o.log.info({ bot_id: bot.id, bot_pid: s.pid }, "bot process is up (first heartbeat)");
      }
    });
    this.#o.log.info({ bot_id: bot.id, bot_pid: s.pid, restarts: s.restarts }, "bot process started");
    return child;
  }

  #exited(bot: Bot, s: Slot, child: ChildProcess, reason: string): void {
    if (s.child !== child) return;
    s.child = null;
    const asked = s.state === "stopping" || !bot.wanted || this.#closing;
    if (asked) {
      this.#o.log.info({ bot_id: bot.id, bot_pid: s.pid, reason }, "bot process stopped");
      s.set("stopped");
      return;
    }
    const lived = Date.now() - s.spawnedAt;
    if (lived >= this.#o.healthyMs) {
      s.backoffMs = this.#o.backoffMs;
      // After a healthy run the same failure is news again.
      bot.reported = undefined;
    }
    const delay = s.backoffMs;
    s.backoffMs = Math.min(s.backoffMs * 2, this.#o.maxBackoffMs);
    const logFile = `var/log/${bot.id}.log`;
    const last = lastErrorLine(join(this.#o.rootDir, logFile), s.pid, bot.instances === 1);
    const retry = `restarting in ${(delay / 1000).toFixed(1)} s`;
    bot.error = last ? `${last} (${reason}; ${retry}; see ${logFile})` : `${reason}; ${retry} (see ${logFile})`;
    s.error = bot.error;
    s.set("error");
    const what = last ?? reason;
    const fields = { bot_id: bot.id, bot_pid: s.pid, reason, ...(last ? { last_error: last } : {}), restart_in_ms: delay, log_file: logFile };
    // A bot that keeps failing the same way is reported once at warn level, not at every backoff.
    if (bot.reported === what) this.#o.log.info(fields, "bot process ended unexpectedly again, the same way");
    else this.#o.log.warn(fields, "bot process ended unexpectedly");
    bot.reported = what;
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (!bot.wanted || this.#closing || s.child || !bot.slots.includes(s)) return;
      s.restarts++;
      this.#spawn(bot, s);
    }, delay);
  }

  /** Wait until each process just spawned sent its first heartbeat or ended, at most startTimeoutMs. */
  async #settle(spawned: Spawned[]): Promise<void> {
    if (!spawned.length) return;
    const until = Date.now() + this.#o.startTimeoutMs;
    const pending = () => spawned.some(({ slot, child }) => slot.child === child && slot.state === "starting");
    while (Date.now() < until && !this.#closing && pending()) await sleep(50);
  }
}

/** A process just spawned into a slot (the slot may have another one later). */
interface Spawned { slot: Slot; child: ChildProcess }

/** Bytes read from the end of a bot's log file for its last error line. */
const TAIL_BYTES = 64 * 1024;

/**
 * The last error line a process logged: the newest pino line of `pid` at level error or fatal
 * (its message, and its error's message when that adds something). When `anyPid` and no such
 * line exists, the last line that is not JSON and mentions an error (Node's own crash output).
 */
export function lastErrorLine(file: string, pid: number, anyPid = false): string | undefined {
  let text: string;
  try {
    const fd = openSync(file, "r");
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, TAIL_BYTES);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      text = buf.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  let plain: string | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line) continue;
    if (!line.startsWith("{")) {
      if (anyPid && plain === undefined && /error/i.test(line)) plain = line;
      continue;
    }
    let o: { pid?: unknown; level?: unknown; msg?: unknown; err?: { message?: unknown } };
    try { o = JSON.parse(line) as typeof o; } catch { continue; }
    if (o.pid !== pid) continue;
    const level = o.level;
    if (!(level === "error" || level === "fatal" || (typeof level === "number" && level >= 50))) continue;
    const msg = typeof o.msg === "string" ? o.msg : "";
    const errMsg = typeof o.err?.message === "string" ? o.err.message : "";
    const full = errMsg && !msg.includes(errMsg) ? (msg ? `${msg.replace(/\.$/, "")}: ${errMsg}` : errMsg) : msg;
    return full.length > 1000 ? `${full.slice(0, 1000)}...` : full;
  }
  return plain && plain.length > 1000 ? `${plain.slice(0, 1000)}...` : plain;
}
