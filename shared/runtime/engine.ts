// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bot runtime: consume envelopes, decode and validate each event, process it with IntelMQ's
 * retries, publish the outputs, await the PubAcks, then ack. Collectors: rounds of collect().
 */
import { EventEmitter } from "node:events";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import {
  Message, type Event, type Report, Report as ReportClass, decodeEnvelope, encodeEnvelope, messageFromDict, newEvent,
} from "../message/index.js";
import { loadHarmonization, type Harmonization } from "../harmonization/index.js";
import type { Broker, Delivery, DumpEntry, QueueSettings, Subscription } from "../broker/index.js";
import { DEFAULTS as BROKER_DEFAULTS } from "../broker/index.js";
import { ConfigurationError, ErrorCode, PipelineError, hasCode } from "../errors/index.js";
import type { BotContext, BotDefinition, BotKind, CollectorImpl, ExpertImpl, OutputImpl, ParserImpl, Routed } from "./types.js";
import { resolveParams, type ResolvedParams } from "./runtime-params.js";
import { createLogger, redactParams } from "./logger.js";
import { parseReport, normaliseEmit } from "./parser-driver.js";
import { BoundedSet, RecentSet, Waker, errorMessage, pythonJsonDumps, secondsToHuman, tracebackLines, utcTimestamp } from "./util.js";

/** Life states of a running bot. */
export type BotState = "starting" | "running" | "paused" | "reloading" | "stopping" | "stopped" | "error";

/** Counters since start (IntelMQ's stats.success, stats.failure, total.<path>). */
export interface BotStats {
  success: number;
  /** Every failed attempt counts. */
  failure: number;
  /** Messages sent per path. */
  paths: Record<string, number>;
  state: BotState;
}

/** An input envelope is done with: acked, left unacked (error_procedure stop, broker closed) or given back. */
export interface SettledInfo { seq: number; outcome: "acked" | "left" | "nak" }
/** Messages confirmed by the broker on one path (one envelope's worth). */
export interface OutputInfo { path: string; queues: string[]; messages: Record<string, unknown>[] }

export interface BotEvents {
  state: [BotState];
  settled: [SettledInfo];
  output: [OutputInfo];
  dump: [DumpEntry];
}

/** A running bot. */
export interface BotHandle {
  readonly botId: string;
  /** Stop pulling, finish and ack what is in flight, give back what was not started, call shutdown(). */
  stop(): Promise<void>;
  /** At a safe point: drain, shutdown(), resolve the new parameters, create the bot again, go on. */
  reload(rawParams: Record<string, unknown>): Promise<void>;
  /** Stop pulling but stay connected (control plane "stop" under containers). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stats(): BotStats;
  /** Exit code: 0, or 1 after error_procedure stop, a ConfigurationError or a failed start. */
  readonly done: Promise<number>;
  on<E extends keyof BotEvents>(event: E, listener: (...args: BotEvents[E]) => void): this;
  off<E extends keyof BotEvents>(event: E, listener: (...args: BotEvents[E]) => void): this;
}

export interface StartBotOptions {
  def: BotDefinition;
  botId: string;
  /** Effective raw parameters (global + bot + environment), validated here. */
  params: Record<string, unknown>;
  broker: Broker;
  /** The process's logger; the bot gets a child bound to its id. Default: createLogger() on stderr. */
  log?: Logger;
  /** Same as `log`. */
  logger?: Logger;
  /** Settings for the queues this bot creates (max_bytes, duplicate window, replicas, archive). */
  queueSettings?: QueueSettings;
  /** Settings per queue (the configuration's queueSettingsFor); takes precedence over queueSettings. */
  queueSettingsFor?: (queue: string) => QueueSettings;
  /** Instances of this bot id (informational: every instance reads the same durable consumer). */
  instances?: number;
  harmonization?: Harmonization;
  /** INTELMQ_ROOT_DIR; default the environment variable, else the project's root. */
  rootDir?: string;
  /** Input envelopes processed but not yet confirmed and acked, at most (default 32). */
  window?: number;
  /** Collectors: do not loop; the caller runs rounds (library mode). */
  manualRounds?: boolean;
}

/** The project's root: INTELMQ_ROOT_DIR, else the folder above dist/ (or above shared/ in sources). */
export function defaultRootDir(): string {
  if (process.env.INTELMQ_ROOT_DIR) return process.env.INTELMQ_ROOT_DIR;
  let d = dirname(fileURLToPath(import.meta.url));
  while (!d.endsWith("/dist") && d !== "/") d = dirname(d);
  return d === "/" ? join(dirname(fileURLToPath(import.meta.url)), "..", "..") : dirname(d);
}

type Outcome = { kind: "job"; job: Promise<void> } | { kind: "stop" } | { kind: "aborted" } | { kind: "nak"; delayMs: number };
type Step = "ok" | "stop" | "aborted";

const DEFAULT_WINDOW = 8;
const COMPLETED_MEMORY = 100_000;
const MSG_ID_HEADER = "Nats-Msg-Id";
/** working() interval for held deliveries, well inside JetStream's default ack_wait of 30 s. */
const KEEPALIVE_MS = 10_000;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The engine behind startBot and library mode. */
export class BotRunner extends EventEmitter implements BotHandle {
  readonly botId: string;
  readonly done: Promise<number>;
  /** Why the start failed, if it did. */
  initError: unknown = null;

  readonly #def: BotDefinition;
  readonly #broker: Broker;
  readonly #queueSettings: QueueSettings | undefined;
  readonly #queueSettingsFor: ((queue: string) => QueueSettings) | undefined;
  readonly #log: Logger;
  readonly #rootDir: string;
  readonly #window: number;
  readonly #manual: boolean;
  #h!: Harmonization;
  #res!: ResolvedParams;
  #impl: unknown = null;
  #ctx!: BotContext;
  #dest: Record<string, string[]> = {};

  #state: BotState = "starting";
  #halt = false;
  #selfExit: number | null = null;
  #finished = false;
  #resolveDone!: (code: number) => void;
  readonly #waker = new Waker();
  #sub: Subscription | null = null;
  #loop: Promise<void> | null = null;
  readonly #inflight = new Set<Promise<void>>();
  /** Deliveries taken and not settled: kept alive with working() while slow work goes on. */
  readonly #held = new Set<Delivery>();
  readonly #completed = new BoundedSet<number>(COMPLETED_MEMORY);
  /**
   * Message ids of inputs completed within the duplicate window. A nats-server that restarts
   * forgets the ids of messages already acked, so a sender's retry after an outage can store a
   * second copy under the same id; this bot then recognises it and only acknowledges it.
   */
  readonly #completedIds: RecentSet;
  #ops: Promise<unknown> = Promise.resolve();
  #stats = { success: 0, failure: 0, paths: {} as Record<string, number> };
  #counter = { since: 0, start: 0 };
  #warnedNoDump = false;
  #round = 0;

  constructor(opts: StartBotOptions) {
    super();
    this.botId = opts.botId;
    this.#def = opts.def;
    this.#broker = opts.broker;
    const root = opts.log ?? opts.logger ?? createLogger({ botId: opts.botId });
    this.#log = (root.bindings() as { bot_id?: string }).bot_id === opts.botId ? root : root.child({ bot_id: opts.botId });
    this.#queueSettings = opts.queueSettings;
    this.#queueSettingsFor = opts.queueSettingsFor;
    this.#completedIds = new RecentSet(opts.queueSettings?.duplicateWindowMs ?? BROKER_DEFAULTS.duplicateWindowMs, COMPLETED_MEMORY);
    this.#rootDir = opts.rootDir ?? defaultRootDir();
    this.#window = Math.max(1, opts.window ?? DEFAULT_WINDOW);
    this.#manual = opts.manualRounds ?? false;
    if (opts.harmonization) this.#h = opts.harmonization;
    this.done = new Promise((r) => { this.#resolveDone = r; });
    this.#pendingParams = opts.params;
  }

  #pendingParams: Record<string, unknown>;

  get kind(): BotKind { return this.#def.kind; }
  get log(): Logger { return this.#log; }
  get runtime(): ResolvedParams["runtime"] { return this.#res.runtime; }
  get destinationQueues(): Readonly<Record<string, string[]>> { return this.#dest; }
  get state(): BotState { return this.#state; }

  stats(): BotStats {
    return { success: this.#stats.success, failure: this.#stats.failure, paths: { ...this.#stats.paths }, state: this.#state };
  }

  #setState(s: BotState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.emit("state", s);
  }

  /** Resolve parameters, create the bot, open the queues, start consuming (or collecting). Never throws. */
  async init(): Promise<void> {
    this.#log.info("Bot is starting.");
    try {
      await this.#setup(this.#pendingParams);
    } catch (err) {
      this.initError = err;
      this.#log.error({ err }, "Bot initialization failed.");
      await this.#finish(1);
      return;
    }
    this.#log.info("Bot initialization completed.");
    this.#startLoop();
  }

  async #setup(raw: Record<string, unknown>): Promise<void> {
    const res = resolveParams(this.#def, this.botId, raw);
    this.#res = res as ResolvedParams;
    this.#dest = res.runtime.destination_queues;
    this.#log.level = levelOf(res.runtime.logging_level);
    for (const [k, v] of Object.entries(redactParams(raw))) this.#log.debug(`Runtime configuration: parameter ${JSON.stringify(k)} loaded with value ${JSON.stringify(v)}.`);
    for (const k of res.unknown) this.#log.warn(`Ignoring unknown parameter ${JSON.stringify(k)}.`);
    if (!this.#h) {
      const file = join(this.#rootDir, "etc", "harmonization.conf");
      this.#h = loadHarmonization(existsSync(file) ? file : undefined);
    }
    const stateDir = join(this.#rootDir, "var", "lib", "bots", this.botId);
    if (!res.runtime.testing) {
      try { mkdirSync(stateDir, { recursive: true }); } catch { /* a bot that needs it will say so */ }
    }
    const h = this.#h;
    const broker = this.#broker;
    const copyFields = res.parser.copy_collector_provided_fields ?? undefined;
    this.#ctx = {
      botId: this.botId,
      log: this.#log,
      harmonization: h,
      runtime: res.runtime,
      stateDir,
      rootDir: this.#rootDir,
      newEvent: (report?: Report | null): Event => newEvent(report ?? null, { harmonization: h, copyFields }),
      newReport: (): Report => new ReportClass(null, { harmonization: h }),
      cache: (bucket: string, ttl: number) => broker.cache(bucket, ttl),
      testing: res.runtime.testing,
    };
    if (this.#def.kind === "parser") this.#checkDefaultFields();
    this.#impl = await this.#def.create(res.bot, this.#ctx);
    if (this.#def.kind !== "collector") {
      this.#log.info(`Loading source pipeline and queue ${JSON.stringify(res.runtime.source_queue)}.`);
      await this.#broker.ensureQueue(res.runtime.source_queue!, this.#settingsOf(res.runtime.source_queue!));
    }
    const queues = new Set(Object.values(this.#dest).flat());
    if (queues.size) this.#log.info(`Loading destination pipeline and queues ${JSON.stringify(this.#dest)}.`);
    for (const q of queues) await this.#broker.ensureQueue(q, this.#settingsOf(q));
  }

  /**
   * The queues collectors feed keep their raw reports in the archive stream (for replay) unless
   * the configuration says queue_archive: false.
   */
  #settingsOf(queue: string): QueueSettings | undefined {
    const s = this.#queueSettingsFor?.(queue) ?? this.#queueSettings;
    return this.#def.kind === "collector" ? { ...s, archive: s?.archive ?? true } : s;
  }

  /** IntelMQ's ParserBot checks default_fields against the harmonization at start. */
  #checkDefaultFields(): void {
    const df = this.#res.parser.default_fields;
    if (!df) return;
    const dummy = this.#ctx.newEvent();
    const bad: string[] = [];
    for (const [k, v] of Object.entries(df)) {
      try {
        dummy.add(k, v, { raiseFailure: true });
      } catch (err) {
        if (hasCode(err, ErrorCode.InvalidKey)) this.#log.error(`Invalid key '${k}' in default_fields parameter.`);
        else this.#log.error(`Invalid value of key '${k}' in default_fields parameter.`);
        bad.push(k);
      }
    }
    // In tests IntelMQ goes on (and the lines fail); a real bot stops.
    if (bad.length && !this.#res.runtime.testing) {
      throw new ConfigurationError(`bot ${this.botId}`, `parameter "default_fields": invalid entries ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
    }
  }

  #startLoop(): void {
    this.#halt = false;
    this.#setState("running");
    if (this.#def.kind === "collector") {
      if (this.#manual) return;
      this.#loop = this.#collectLoop().then(() => this.#afterLoop());
    } else {
      this.#loop = this.#consumeLoop().then(() => this.#afterLoop());
    }
  }

  async #afterLoop(): Promise<void> {
    if (this.#selfExit !== null && !this.#finished) await this.#finish(this.#selfExit);
  }

  /** Stop pulling and wait until what is in flight is confirmed and acked. */
  async #haltLoop(): Promise<void> {
    this.#halt = true;
    this.#waker.wake();
    const sub = this.#sub;
    if (sub) await sub.stop().catch(() => undefined);
    if (this.#loop) await this.#loop;
    this.#loop = null;
    await Promise.all(this.#inflight);
  }

  async #finish(code: number): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#halt = true;
    this.#setState("stopping");
    const impl = this.#impl as { shutdown?: () => void | Promise<void> } | null;
    if (impl?.shutdown) {
      try { await impl.shutdown(); } catch (err) { this.#log.error({ err }, "Error during shutdown of bot."); }
    }
    if (this.#counter.since) this.#log.info(`Processed ${this.#counter.since} messages since last logging.`);
    this.#counter.since = 0;
    this.#log.info("Bot stopped.");
    this.#setState(code === 0 ? "stopped" : "error");
    this.#resolveDone(code);
  }

  #op<T>(f: () => Promise<T>): Promise<T> {
    const r = this.#ops.then(f, f);
    this.#ops = r.catch(() => undefined);
    return r;
  }

  stop(): Promise<void> {
    return this.#op(async () => {
      if (this.#finished) return;
      this.#setState("stopping");
      await this.#haltLoop();
      await this.#finish(this.#selfExit ?? 0);
    });
  }

  pause(): Promise<void> {
    return this.#op(async () => {
      if (this.#finished || this.#state !== "running") return;
      await this.#haltLoop();
      if (!this.#finished) this.#setState("paused");
    });
  }

  resume(): Promise<void> {
    return this.#op(async () => {
      if (this.#finished || this.#state !== "paused") return;
      this.#startLoop();
    });
  }

  reload(rawParams: Record<string, unknown>): Promise<void> {
    return this.#op(async () => {
      if (this.#finished) return;
      const wasPaused = this.#state === "paused";
      this.#log.info("Handling SIGHUP, initializing again now.");
      this.#setState("reloading");
      await this.#haltLoop();
      if (this.#finished) return;
      const impl = this.#impl as { shutdown?: () => void | Promise<void> } | null;
      if (impl?.shutdown) {
        try { await impl.shutdown(); } catch (err) { this.#log.error({ err }, "Error during shutdown of bot."); }
      }
      this.#impl = null;
      try {
        await this.#setup(rawParams);
      } catch (err) {
        this.#log.error({ err }, "Bot initialization failed.");
        await this.#finish(1);
        return;
      }
      this.#log.info("Bot initialization completed.");
      if (wasPaused) {
        this.#setState("paused");
      } else {
        this.#startLoop();
      }
    });
  }

  // ---- consuming ------------------------------------------------------------------------------

  async #consumeLoop(): Promise<void> {
    const queue = this.#res.runtime.source_queue!;
    let backoff = 100;
    // Slow bots (HTTP lookups, retries with error_retry_delay) must not outlive the ack deadline.
    const keepalive = setInterval(() => { for (const d of this.#held) d.working(); }, KEEPALIVE_MS);
    keepalive.unref();
    try {
      await this.#consumeUntilHalted(queue, backoff);
    } finally {
      clearInterval(keepalive);
    }
  }

  async #consumeUntilHalted(queue: string, backoff: number): Promise<void> {
    while (!this.#halt) {
      let sub: Subscription;
      try {
        sub = await this.#broker.consume(queue, { maxInFlight: this.#window });
      } catch (err) {
        if (this.#broker.state === "closed") return;
        this.#log.warn({ err }, "Could not consume from the source queue; retrying.");
        await this.#waker.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      if (this.#halt) { await sub.stop(); break; }
      this.#sub = sub;
      this.#log.info("Connected to source queue.");
      try {
        for await (const d of sub) {
          if (this.#halt) {
            d.nak();
            this.emit("settled", { seq: d.seq, outcome: "nak" });
            continue;
          }
          backoff = 100;
          this.#held.add(d);
          let outcome: Outcome;
          try {
            outcome = await this.#handleDelivery(d);
          } catch (err) {
            // A fault of the runtime itself, not of the message: give it back and go on.
            this.#log.error({ err }, "Unexpected failure while handling a message; it will be redelivered.");
            outcome = { kind: "nak", delayMs: 1000 };
          }
          if (outcome.kind === "job") {
            const job = outcome.job;
            this.#inflight.add(job);
            void job.finally(() => { this.#inflight.delete(job); this.#held.delete(d); });
            while (this.#inflight.size >= this.#window) await Promise.race(this.#inflight);
          } else if (outcome.kind === "nak" || outcome.kind === "aborted") {
            this.#held.delete(d);
            d.nak(outcome.kind === "nak" ? outcome.delayMs : 0);
            this.emit("settled", { seq: d.seq, outcome: "nak" });
          } else {
            // error_procedure stop: leave the envelope unacked, stop consuming, exit 1.
            this.#held.delete(d);
            this.#selfExit = 1;
            this.#halt = true;
            this.emit("settled", { seq: d.seq, outcome: "left" });
            void sub.stop();
            continue;
          }
          const rt = this.#res.runtime;
          if (rt.run_mode === "scheduled") {
            this.#log.info("Shutting down scheduled bot.");
            if (this.#selfExit === null) this.#selfExit = 0;
            this.#halt = true;
            void sub.stop();
          } else if (rt.rate_limit > 0 && !rt.testing && !this.#halt) {
            this.#idle(rt.rate_limit);
            await this.#waker.sleep(rt.rate_limit * 1000);
          }
        }
      } catch (err) {
        if (this.#broker.state === "closed") break;
        this.#log.warn({ err }, "Consuming from the source queue failed; reconnecting.");
        await this.#waker.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        this.#sub = null;
        await Promise.all(this.#inflight);
      }
    }
  }

  #idle(seconds: number): void {
    this.#log.info(`Idling for ${seconds.toFixed(1)}s (${secondsToHuman(seconds)}) now.`);
  }

  async #handleDelivery(d: Delivery): Promise<Outcome> {
    const rt = this.#res.runtime;
    const out = new Map<string, Message[]>();
    const dumps: DumpEntry[] = [];
    const msgId = d.headers[MSG_ID_HEADER];
    if (msgId !== undefined && this.#completedIds.has(msgId)) {
      this.#log.debug(`Message ${d.seq} repeats message id ${msgId}, completed before; acknowledging it only.`);
      return { kind: "job", job: this.#complete(d, out, dumps) };
    }
    if (this.#completed.has(d.seq)) {
      // Its outputs were confirmed before; only the ack was lost. Not only when deliveryCount > 1:
      // after a restart nats-server 2.9 may hand back an unacked message as delivered once.
      this.#log.debug(`Message ${d.seq} was completed before; acknowledging it only.`);
      return { kind: "job", job: this.#complete(d, out, dumps) };
    }
    let dicts: Record<string, unknown>[];
    try {
      dicts = decodeEnvelope(d.data, d.headers["Content-Type"] ?? d.headers["content-type"]);
    } catch (err) {
      this.#stats.failure++;
      this.#log.error({ err }, "Could not decode message from pipeline. No retries useful.");
      this.#dumpOrWarn(dumps, tracebackLines(err), Buffer.from(d.data).toString("base64"), true);
      return { kind: "job", job: this.#complete(d, out, dumps) };
    }
    if (dicts.length === 0) this.#log.warn("Empty message received. Some previous bot sent invalid data.");
    const defaultType = this.#def.kind === "parser" ? "Report" : "Event";
    const redelivered = d.deliveryCount > 1;
    // Experts work on the events of one envelope concurrently (a deduplicator waits on its
    // cache for each); each event keeps its own outputs, merged below in input order.
    const concurrent = this.#def.kind === "expert" && dicts.length > 1;
    const pending: Promise<Step>[] = [];
    const perEvent: Map<string, Message[]>[] = [];
    for (let i = 0; i < dicts.length; i++) {
      const dict = dicts[i]!;
      let msg: Message;
      try {
        msg = messageFromDict(dict, { harmonization: this.#h, defaultType });
      } catch (err) {
        // Invalid on receive: retrying cannot help (IntelMQ dumps the dict it was built from).
        this.#stats.failure++;
        if (hasCode(err, ErrorCode.InvalidValue)) this.#log.error({ err }, "Found an invalid value that violates the harmonization rules.");
        else if (hasCode(err, ErrorCode.InvalidKey)) this.#log.error({ err }, "Found an invalid key that violates the harmonization rules.");
        else this.#log.error({ err }, "Could not decode message from pipeline. No retries useful.");
        const { __type: _t, ...rest } = dict;
        this.#dumpOrWarn(dumps, tracebackLines(err), Buffer.from(pythonJsonDumps(rest), "utf8").toString("base64"), true);
        continue;
      }
      const meta = { origin: `${d.queue}:${d.seq}:${i}`, redelivered };
      if (concurrent) {
        const own = new Map<string, Message[]>();
        perEvent.push(own);
        pending.push(this.#processWithRetries(msg, meta, own, dumps, d));
        continue;
      }
      const step = await this.#processWithRetries(msg, meta, out, dumps, d);
      if (step === "stop") return { kind: "stop" };
      if (step === "aborted") return { kind: "aborted" };
    }
    if (concurrent) {
      const steps = await Promise.all(pending);
      if (steps.includes("stop")) return { kind: "stop" };
      if (steps.includes("aborted")) return { kind: "aborted" };
      for (const own of perEvent) {
        for (const [path, msgs] of own) {
          const list = out.get(path);
          if (list) list.push(...msgs); else out.set(path, msgs);
        }
      }
    }
    if (this.#def.kind === "output") {
      const impl = this.#impl as OutputImpl;
      if (impl.flush) {
        try {
          await impl.flush();
        } catch (err) {
          this.#stats.failure++;
          this.#log.error({ err }, "Bot has found a problem.");
          if (rt.error_procedure === "stop" || hasCode(err, ErrorCode.ConfigurationError)) return { kind: "stop" };
          return { kind: "nak", delayMs: rt.testing ? 0 : rt.error_retry_delay * 1000 };
        }
      }
    }
    return { kind: "job", job: this.#complete(d, out, dumps) };
  }

  #dumpEntry(traceback: string[] | string, message: string, base64: boolean): DumpEntry {
    const e: DumpEntry = {
      bot_id: this.botId,
      source_queue: this.#def.kind === "collector" ? null : this.#res.runtime.source_queue,
      traceback,
      message,
      timestamp: utcTimestamp(),
    };
    if (base64) e.message_type = "base64";
    return e;
  }

  #dumpOrWarn(dumps: DumpEntry[], traceback: string[] | string, message: string, base64: boolean): void {
    if (this.#res.runtime.error_dump_message) {
      this.#log.info("Dumping message to dump file.");
      dumps.push(this.#dumpEntry(traceback, message, base64));
    } else if (!this.#warnedNoDump) {
      this.#warnedNoDump = true;
      this.#log.warn("Message will be removed from the pipeline and not dumped to the disk. Set `error_dump_message` to true to save the message on disk. This warning is only shown once in the runtime of a bot.");
    }
  }

  /** One event through the bot, with IntelMQ's retries; outputs and dumps go into `out`/`dumps`. */
  async #processWithRetries(msg: Message, meta: { origin: string; redelivered: boolean }, out: Map<string, Message[]>, dumps: DumpEntry[], d: Delivery | null): Promise<Step> {
    const rt = this.#res.runtime;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        const { routed, dumps: extra } = await this.#processOne(msg, meta);
        const sends = this.#route(routed);
        for (const [path, m] of sends) this.#send(out, path, m);
        for (const e of extra) dumps.push(e);
        this.#stats.success++;
        return "ok";
      } catch (err) {
        failure = err;
      }
      this.#stats.failure++;
      const invalid = hasCode(failure, ErrorCode.InvalidValue);
      if (invalid) this.#log.error({ err: failure }, "Found an invalid value that violates the harmonization rules.");
      else this.#logProblem(failure);
      if (rt.error_log_message) this.#log.info(`Current Message(event): ${safeJson(msg)}.`);
      if (hasCode(failure, ErrorCode.ConfigurationError)) return "stop";
      if (invalid || attempt >= rt.error_max_retries) {
        if (rt.error_procedure === "stop") {
          this.#log.error("Giving up on the message; error_procedure is stop: leaving it in the queue and stopping.");
          return "stop";
        }
        this.#dumpOrWarn(dumps, tracebackLines(failure), safeJson(msg), false);
        if (this.#dest._on_error) this.#send(out, "_on_error", msg);
        return "ok";
      }
      if (!(await this.#pauseBeforeRetry(d))) return "aborted";
    }
  }

  /** IntelMQ's log of a failure: the exception with its traceback (error_log_exception), else its message. */
  #logProblem(failure: unknown): void {
    if (this.#res.runtime.error_log_exception) {
      this.#log.error({ err: failure }, "Bot has found a problem.");
    } else {
      this.#log.error(errorMessage(failure));
      this.#log.error("Bot has found a problem.");
    }
  }

  /** error_retry_delay before the next attempt (none when testing), keeping `d` held; false if the bot is halting. */
  async #pauseBeforeRetry(d: Delivery | null): Promise<boolean> {
    const wait = this.#res.runtime.testing ? 0 : this.#res.runtime.error_retry_delay;
    this.#log.info(`Bot will continue in ${wait} seconds.`);
    d?.working();
    const full = await this.#waker.sleep(wait * 1000);
    return full && !this.#halt;
  }

  async #processOne(msg: Message, meta: { origin: string; redelivered: boolean }): Promise<{ routed: Routed[]; dumps: DumpEntry[] }> {
    switch (this.#def.kind) {
      case "expert":
        return { routed: normaliseEmit(await (this.#impl as ExpertImpl).process(msg as Event, meta)), dumps: [] };
      case "output":
        await (this.#impl as OutputImpl).export(msg as Event);
        return { routed: [], dumps: [] };
      case "parser":
        return this.#parse(msg as Report);
      default:
        throw new ConfigurationError(`bot ${this.botId}`, "a collector has no input");
    }
  }

  async #parse(report: Report): Promise<{ routed: Routed[]; dumps: DumpEntry[] }> {
    if (!report.has("raw")) {
      this.#log.warn("Report without raw field received. Possible bug or misconfiguration in previous bots.");
      return { routed: [], dumps: [] };
    }
    const rt = this.#res.runtime;
    const { events, failed } = await parseReport(report, this.#impl as ParserImpl, {
      log: this.#log,
      defaultFields: this.#res.parser.default_fields,
      tracebackText: (e) => tracebackLines(e).join(""),
      parser: this.#def.name,
    });
    const routed = [...events];
    const dumps: DumpEntry[] = [];
    for (const f of failed) {
      const copy = report.copy();
      // encoded here: a line such as "-" or "N/A" would be taken for "no value" and the raw dropped
      copy.change("raw", Buffer.from(f.raw, "utf8").toString("base64"), { sanitize: false });
      if (rt.error_dump_message) {
        this.#log.info("Dumping message to dump file.");
        dumps.push(this.#dumpEntry(f.traceback, safeJson(copy), false));
      }
      if (this.#dest._on_error) routed.push({ path: "_on_error", msg: copy });
    }
    this.#log.info(`Sent ${events.length} events and found ${failed.length} problem(s).`);
    return { routed, dumps };
  }

  /** Check paths: an unknown path is a PipelineError of the message unless the send is permissive. */
  #route(routed: Routed[]): [string, Message][] {
    const out: [string, Message][] = [];
    for (const r of routed) {
      if (!(r.msg instanceof Message)) throw new TypeError("bot returned a routed entry without a message");
      if (!Object.hasOwn(this.#dest, r.path)) {
        if (r.permissive) continue;
        throw new PipelineError(`destination path ${JSON.stringify(r.path)} is not configured in destination_queues`);
      }
      out.push([r.path, r.msg]);
    }
    return out;
  }

  #send(out: Map<string, Message[]>, path: string, m: Message): void {
    let l = out.get(path);
    if (!l) out.set(path, (l = []));
    l.push(m);
    this.#countSent(path);
  }

  /** IntelMQ counts sent messages and logs the count every N messages or seconds. */
  #countSent(path: string): void {
    this.#stats.paths[path] = (this.#stats.paths[path] ?? 0) + 1;
    const rt = this.#res.runtime;
    const now = Date.now();
    if (!this.#counter.start) this.#counter.start = now;
    this.#counter.since++;
    if (this.#counter.since % rt.log_processed_messages_count === 0 || now - this.#counter.start > rt.log_processed_messages_seconds * 1000) {
      this.#log.info(`Processed ${this.#counter.since} messages since last logging.`);
      this.#counter.since = 0;
      this.#counter.start = now;
    }
  }

  /** Publish the outputs of one input envelope, store its dumps, await all confirmations, then ack. */
  async #complete(d: Delivery, out: Map<string, Message[]>, dumps: DumpEntry[]): Promise<void> {
    const rt = this.#res.runtime;
    const src = rt.source_queue!;
    const tasks: Promise<void>[] = [];
    const taps: OutputInfo[] = [];
    const tap = this.listenerCount("output") > 0;
    for (const [path, msgs] of out) {
      const queues = this.#dest[path] ?? [];
      if (!queues.length) continue;
      let k = 0;
      for (const { chunk, bytes } of envelopes(msgs, rt.batch_size)) {
        // Load balancing is derived from the input, not from a counter, so a redelivery picks the same queue and id.
        const targets = rt.load_balance ? [queues[(d.seq + k) % queues.length]!] : queues;
        for (const q of targets) tasks.push(this.#publish(q, bytes, `${src}:${d.seq}:${path}:${q}:${k}`, d));
        if (tap) taps.push({ path, queues: targets, messages: chunk.map((m) => m.serialize()) });
        k++;
      }
    }
    for (const e of dumps) tasks.push(this.#storeDump(e, d));
    try {
      await Promise.all(tasks);
    } catch (err) {
      this.#log.warn({ err }, "The broker closed before the outputs were confirmed; the message stays in its queue.");
      this.emit("settled", { seq: d.seq, outcome: "left" });
      return;
    }
    this.#completed.add(d.seq);
    const msgId = d.headers[MSG_ID_HEADER];
    if (msgId !== undefined) this.#completedIds.add(msgId);
    for (const t of taps) this.emit("output", t);
    for (const e of dumps) this.emit("dump", e);
    try {
      await d.ack();
      this.emit("settled", { seq: d.seq, outcome: "acked" });
    } catch (err) {
      this.#log.warn({ err }, "Could not acknowledge a message; when it is redelivered it is only acknowledged.");
      this.emit("settled", { seq: d.seq, outcome: "left" });
    }
  }

  /** Publish until confirmed: a broker outage is waited out with backoff, never a reason to drop. */
  async #publish(queue: string, data: Uint8Array, msgId: string, d: Delivery | null): Promise<void> {
    let backoff = 100;
    for (let n = 0; ; n++) {
      try {
        await this.#broker.publish(queue, data, { msgId });
        return;
      } catch (err) {
        if (this.#broker.state === "closed") throw err;
        if (n % 10 === 0) {
          if (hasCode(err, ErrorCode.BrokerUnavailable)) this.#log.warn({ err }, `Broker unavailable, publishing to ${JSON.stringify(queue)} again.`);
          else this.#log.error({ err }, `Publishing to ${JSON.stringify(queue)} failed; retrying.`);
        }
        d?.working();
        await delay(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  async #storeDump(e: DumpEntry, d: Delivery | null): Promise<void> {
    let backoff = 100;
    for (let n = 0; ; n++) {
      try {
        await this.#broker.dump(e);
        return;
      } catch (err) {
        if (this.#broker.state === "closed") throw err;
        if (n % 10 === 0) this.#log.warn({ err }, "Storing a dump failed; retrying.");
        d?.working();
        await delay(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  // ---- collecting -----------------------------------------------------------------------------

  async #collectLoop(): Promise<void> {
    while (!this.#halt) {
      const step = await this.collectRound();
      if (step === "stop") { this.#selfExit = 1; break; }
      if (step === "aborted") break;
      const rt = this.#res.runtime;
      if (rt.run_mode === "scheduled") {
        this.#log.info("Shutting down scheduled bot.");
        this.#selfExit = 0;
        break;
      }
      // IntelMQ idles rate_limit between rounds; a collector without one idles a second, not a busy loop.
      if (rt.rate_limit > 0) this.#idle(rt.rate_limit);
      await this.#waker.sleep(rt.testing ? 0 : Math.max(rt.rate_limit, 1) * 1000);
    }
  }

  /** One collection round with IntelMQ's retries. Public for library mode. */
  async collectRound(): Promise<Step> {
    const round = this.#round++;
    const rt = this.#res.runtime;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        await this.#collectOnce(round);
        this.#stats.success++;
        return "ok";
      } catch (err) {
        failure = err;
      }
      this.#stats.failure++;
      this.#logProblem(failure);
      if (hasCode(failure, ErrorCode.ConfigurationError)) return "stop";
      if (attempt >= rt.error_max_retries) return rt.error_procedure === "stop" ? "stop" : "ok";
      if (!(await this.#pauseBeforeRetry(null))) return "aborted";
    }
  }

  async #collectOnce(round: number): Promise<void> {
    const impl = this.#impl as CollectorImpl;
    const got = await impl.collect();
    if (!got) {
      if (impl.commit) await impl.commit();
      return;
    }
    const rt = this.#res.runtime;
    const feed = this.#res.feed;
    const pending = new Set<Promise<void>>();
    let failed: { err: unknown } | undefined;
    let k = 0;
    for await (const report of got as AsyncIterable<Report> | Iterable<Report>) {
      if (!report) { this.#log.warn("Ignoring empty message at sending. Possible bug in bot."); continue; }
      if (!report.has("raw")) {
        this.#log.warn("Ignoring report without raw field. Possible bug or misconfiguration of this bot.");
        continue;
      }
      const queues = this.#dest._default;
      if (!queues) throw new PipelineError('destination path "_default" is not configured in destination_queues');
      if (feed.name) report.add("feed.name", feed.name, { overwrite: false });
      if (feed.code) report.add("feed.code", feed.code, { overwrite: false });
      if (feed.documentation) report.add("feed.documentation", feed.documentation, { overwrite: false });
      if (feed.provider) report.add("feed.provider", feed.provider, { overwrite: false });
      if (feed.accuracy) report.add("feed.accuracy", feed.accuracy, { overwrite: false });
      this.#countSent("_default");
      const hash = createHash("sha256").update(String(report.get("raw"))).digest("hex");
      const msgId = `${this.botId}:${hash}:${round}`;
      const bytes = encodeEnvelope([report]);
      const targets = rt.load_balance ? [queues[k % queues.length]!] : queues;
      k++;
      const tapped = this.listenerCount("output") > 0 ? report.serialize() : null;
      const p = Promise.all(targets.map((q) => this.#publish(q, bytes, msgId, null))).then(() => {
        if (tapped) this.emit("output", { path: "_default", queues: targets, messages: [tapped] });
      });
      pending.add(p);
      // a publish that failed and left the set before the end still fails the round (no commit)
      void p.finally(() => pending.delete(p)).catch((err: unknown) => { failed ??= { err }; });
      while (pending.size >= this.#window) await Promise.race(pending);
    }
    await Promise.all(pending);
    if (failed) throw failed.err;
    // Only now is every report of the round stored by the broker.
    if (impl.commit) await impl.commit();
  }
}

function levelOf(l: string): string {
  switch (l) {
    case "DEBUG": return "debug";
    case "WARNING": return "warn";
    case "ERROR": return "error";
    case "CRITICAL": return "fatal";
    default: return "info";
  }
}

function safeJson(m: Message): string {
  try { return m.toJson({ withType: true }); } catch { return JSON.stringify(m.serialize()); }
}

/**
 * Start a bot: resolve its parameters, create it, open its queues and consume (or collect) until
 * stopped. A failed start resolves `done` with 1 (the reason is logged and in `initError`).
 */
export async function startBot(opts: StartBotOptions): Promise<BotHandle>;
export async function startBot(def: BotDefinition, opts: Omit<StartBotOptions, "def">): Promise<BotHandle>;
export async function startBot(a: StartBotOptions | BotDefinition, b?: Omit<StartBotOptions, "def">): Promise<BotHandle> {
  const opts: StartBotOptions = b ? { ...b, def: a as BotDefinition } : (a as StartBotOptions);
  const r = new BotRunner(opts);
  await r.init();
  return r;
}

/** Envelopes stay below this size so that they travel as one NATS message (default max_payload 1 MiB). */
export const ENVELOPE_MAX_BYTES = 768 * 1024;

/**
 * Messages in envelopes of up to batchSize, an envelope over ENVELOPE_MAX_BYTES split in halves
 * until it fits (or holds one message). Deterministic: a redelivered input gives the same
 * envelopes, so their message ids repeat and the server drops the copies.
 */
export function* envelopes(msgs: readonly Message[], batchSize: number): Generator<{ chunk: readonly Message[]; bytes: Uint8Array }> {
  function* fit(chunk: readonly Message[]): Generator<{ chunk: readonly Message[]; bytes: Uint8Array }> {
    const bytes = encodeEnvelope(chunk);
    if (bytes.byteLength <= ENVELOPE_MAX_BYTES || chunk.length === 1) {
      yield { chunk, bytes };
      return;
    }
    const half = Math.ceil(chunk.length / 2);
    yield* fit(chunk.slice(0, half));
    yield* fit(chunk.slice(half));
  }
  for (let c = 0; c < msgs.length; c += batchSize) yield* fit(msgs.slice(c, c + batchSize));
}
