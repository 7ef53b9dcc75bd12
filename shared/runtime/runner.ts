// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bot runtime's loop: take deliveries from the source queue (collectors: run rounds), hand
 * each to a job (decode, the kind's driver, publish, ack), keep a bounded number in flight, and
 * own the bot's life: start, stop, pause, resume, reload. shared/runtime/README.md walks through it.
 */
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import type { Logger } from "pino";
import { loadHarmonization, type Harmonization } from "../harmonization/index.js";
import { newEvent, Report as ReportClass, type Event, type Report } from "../message/index.js";
import { DEFAULTS as BROKER_DEFAULTS, type Broker, type Delivery, type DumpEntry, type QueueSettings, type Subscription } from "../broker/index.js";
import { ConfigurationError, ErrorCode, hasCode } from "../errors/index.js";
import type { BotContext, BotDefinition, BotKind, CollectorImpl, ExpertImpl, OutputImpl, ParserImpl } from "./types.js";
import { resolveParams, type ResolvedParams } from "./runtime-params.js";
import { createLogger, redactParams } from "./logger.js";
import { BoundedSet, RecentSet, Waker, secondsToHuman, tracebackLines, type Clock } from "./util.js";
import { Stats, type Counters } from "./steps/stats.js";
import { Halted, Sender } from "./steps/sender.js";
import { Dumper } from "./steps/dumps.js";
import { Outbox, type OutputInfo } from "./steps/outbox.js";
import { decodeInput } from "./steps/decode.js";
import { Attempts, type AttemptRecord } from "./steps/attempts.js";
import type { RetryEnv, Step } from "./steps/retry.js";
import type { InputDriver, InputJob } from "./drivers/driver.js";
import { expertDriver } from "./drivers/expert.js";
import { parserDriver } from "./drivers/parser.js";
import { outputDriver } from "./drivers/output.js";
import { CollectorRounds } from "./drivers/collector.js";

export { ENVELOPE_MAX_BYTES, envelopes, type OutputInfo } from "./steps/outbox.js";

/** Life states of a running bot. */
export type BotState = "starting" | "running" | "paused" | "reloading" | "stopping" | "stopped" | "error";

export interface BotStats extends Counters { state: BotState }

/** An input envelope is done with: acked, left unacked (error_procedure stop, broker closed) or given back. */
export interface SettledInfo { seq: number; outcome: "acked" | "left" | "nak" }

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
  logger?: Logger;
  /** Settings of the queues this bot creates (the configuration's queueSettingsFor). */
  queueSettingsFor?: (queue: string) => QueueSettings;
  harmonization?: Harmonization;
  /** INTELMQ_ROOT_DIR; default the environment variable, else the project's root. */
  rootDir?: string;
  /** Inputs worked on at once (default 8); up to four times as many may wait for a retry. */
  window?: number;
  /** Collectors: do not loop; the caller runs rounds (library mode). */
  manualRounds?: boolean;
  /** Timers of retries, rate_limit and backoffs (tests use their own). */
  clock?: Clock;
}

/** The project's root: INTELMQ_ROOT_DIR, else the folder above dist/ (or above shared/ in sources). */
export function defaultRootDir(): string {
  if (process.env.INTELMQ_ROOT_DIR) return process.env.INTELMQ_ROOT_DIR;
  let d = dirname(fileURLToPath(import.meta.url));
  while (!d.endsWith("/dist") && d !== "/") d = dirname(d);
  return d === "/" ? join(dirname(fileURLToPath(import.meta.url)), "..", "..") : dirname(d);
}

const DEFAULT_WINDOW = 8;
const COMPLETED_MEMORY = 100_000;
const MSG_ID_HEADER = "Nats-Msg-Id";
/** working() interval for held deliveries, well inside JetStream's default ack_wait of 30 s. */
const KEEPALIVE_MS = 10_000;

/** The engine behind startBot and library mode. */
export class BotRunner extends EventEmitter implements BotHandle {
  readonly botId: string;
  readonly done: Promise<number>;
  /** Why the start failed, if it did. */
  initError: unknown = null;

  readonly #def: BotDefinition;
  readonly #broker: Broker;
  readonly #settingsFor: ((queue: string) => QueueSettings) | undefined;
  readonly #rootDir: string;
  readonly #window: number;
  readonly #manual: boolean;
  readonly #waker: Waker;
  #log: Logger;
  #h!: Harmonization;
  #res!: ResolvedParams;
  #impl: unknown = null;
  #driver: InputDriver | null = null;
  #rounds: CollectorRounds | null = null;
  readonly #stats: Stats;
  readonly #sender: Sender;
  readonly #dumper: Dumper;
  readonly #attempts: Attempts;

  #state: BotState = "starting";
  #halt = false;
  #selfExit: number | null = null;
  #finished = false;
  #resolveDone!: (code: number) => void;
  #sub: Subscription | null = null;
  #loop: Promise<void> | null = null;
  /** Jobs in flight, and how many of them are working (not waiting for a retry). */
  readonly #jobs = new Set<Promise<void>>();
  #active = 0;
  #slotFreed: (() => void) | null = null;
  /** Deliveries taken and not settled, by sequence: kept alive with working() while slow work goes on. */
  readonly #held = new Map<number, Delivery>();
  /** Later deliveries of a message still in progress (the server's ack deadline passed meanwhile, an outage). */
  readonly #repeats = new Map<number, Delivery[]>();
  readonly #completed = new BoundedSet<number>(COMPLETED_MEMORY);
  /**
   * Message ids of inputs completed within the duplicate window. A nats-server that restarts
   * forgets the ids of messages already acked, so a sender's retry after an outage can store a
   * second copy under the same id; this bot then recognises it and only acknowledges it.
   */
  #completedIds: RecentSet | null = null;
  #ops: Promise<unknown> = Promise.resolve();
  #pendingParams: Record<string, unknown>;

  constructor(opts: StartBotOptions) {
    super();
    this.botId = opts.botId;
    this.#def = opts.def;
    this.#broker = opts.broker;
    const root = opts.logger ?? createLogger({ botId: opts.botId });
    this.#log = (root.bindings() as { bot_id?: string }).bot_id === opts.botId ? root : root.child({ bot_id: opts.botId });
    this.#settingsFor = opts.queueSettingsFor;
    this.#rootDir = opts.rootDir ?? defaultRootDir();
    this.#window = Math.max(1, opts.window ?? DEFAULT_WINDOW);
    this.#manual = opts.manualRounds ?? false;
    this.#waker = new Waker(opts.clock);
    if (opts.harmonization) this.#h = opts.harmonization;
    this.done = new Promise((r) => { this.#resolveDone = r; });
    this.#pendingParams = opts.params;
    this.#stats = new Stats(this.#log, { count: 500, seconds: 900 });
    this.#sender = new Sender(this.#broker, this.#log, () => this.#halt, this.#waker);
    this.#dumper = new Dumper(this.botId, null, true, this.#log);
    this.#attempts = new Attempts(this.#broker, this.#log);
  }

  get kind(): BotKind { return this.#def.kind; }
  get log(): Logger { return this.#log; }
  get runtime(): ResolvedParams["runtime"] { return this.#res.runtime; }
  get destinationQueues(): Readonly<Record<string, string[]>> { return this.#res.runtime.destination_queues; }
  get state(): BotState { return this.#state; }

  stats(): BotStats {
    return { ...this.#stats.snapshot(), state: this.#state };
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
    const rt = res.runtime;
    this.#completedIds ??= new RecentSet(this.#settingsFor?.(rt.source_queue)?.duplicateWindowMs ?? BROKER_DEFAULTS.duplicateWindowMs, COMPLETED_MEMORY);
    this.#log.level = levelOf(rt.logging_level);
    for (const [k, v] of Object.entries(redactParams(raw))) this.#log.debug(`Runtime configuration: parameter ${JSON.stringify(k)} loaded with value ${JSON.stringify(v)}.`);
    for (const k of res.unknown) this.#log.warn(`Ignoring unknown parameter ${JSON.stringify(k)}.`);
    this.#stats.configure(this.#log, { count: rt.log_processed_messages_count, seconds: rt.log_processed_messages_seconds });
    this.#dumper.configure(this.#def.kind === "collector" ? null : rt.source_queue, rt.error_dump_message, this.#log);
    if (!this.#h) {
      const file = join(this.#rootDir, "etc", "harmonization.conf");
      this.#h = loadHarmonization(existsSync(file) ? file : undefined);
    }
    const stateDir = join(this.#rootDir, "var", "lib", "bots", this.botId);
    if (!rt.testing) {
      try { mkdirSync(stateDir, { recursive: true }); } catch { /* a bot that needs it will say so */ }
    }
    const h = this.#h;
    const broker = this.#broker;
    const copyFields = res.parser.copy_collector_provided_fields ?? undefined;
    const ctx: BotContext = {
      botId: this.botId,
      log: this.#log,
      harmonization: h,
      runtime: rt,
      stateDir,
      rootDir: this.#rootDir,
      newEvent: (report?: Report | null): Event => newEvent(report ?? null, { harmonization: h, copyFields }),
      newReport: (): Report => new ReportClass(null, { harmonization: h }),
      cache: (bucket: string, ttl: number) => broker.kv.open(bucket, ttl),
      testing: rt.testing,
    };
    if (this.#def.kind === "parser") this.#checkDefaultFields(ctx);
    this.#impl = await this.#def.create(res.bot, ctx);
    const env = { dest: rt.destination_queues, dumper: this.#dumper, log: this.#log };
    this.#driver = null;
    this.#rounds = null;
    switch (this.#def.kind) {
      case "expert": this.#driver = expertDriver(this.#impl as ExpertImpl, env); break;
      case "parser": this.#driver = parserDriver(this.#impl as ParserImpl, { ...env, defaultFields: res.parser.default_fields, name: this.#def.name }); break;
      case "output": this.#driver = outputDriver(this.#impl as OutputImpl, env); break;
      case "collector":
        this.#rounds = new CollectorRounds(this.#impl as CollectorImpl, {
          botId: this.botId, runtime: rt, dest: rt.destination_queues, feed: res.feed, log: this.#log, stats: this.#stats,
          sender: this.#sender, waker: this.#waker, window: this.#window, halted: () => this.#halt,
          tap: () => this.#tap(),
        });
        break;
    }
    if (this.#def.kind !== "collector") {
      this.#log.info(`Loading source pipeline and queue ${JSON.stringify(rt.source_queue)}.`);
      await this.#broker.queues.ensure(rt.source_queue, this.#settingsOf(rt.source_queue));
    }
    const queues = new Set(Object.values(rt.destination_queues).flat());
    if (queues.size) this.#log.info(`Loading destination pipeline and queues ${JSON.stringify(rt.destination_queues)}.`);
    for (const q of queues) await this.#broker.queues.ensure(q, this.#settingsOf(q));
  }

  /**
   * The queues collectors feed keep their raw reports in the archive stream (for replay) unless
   * the configuration says queue_archive: false.
   */
  #settingsOf(queue: string): QueueSettings | undefined {
    const s = this.#settingsFor?.(queue);
    return this.#def.kind === "collector" ? { ...s, archive: s?.archive ?? true } : s;
  }

  /** IntelMQ's ParserBot checks default_fields against the harmonization at start. */
  #checkDefaultFields(ctx: BotContext): void {
    const df = this.#res.parser.default_fields;
    if (!df) return;
    const dummy = ctx.newEvent();
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

  // ---- life ----------------------------------------------------------------------------------

  #startLoop(): void {
    this.#halt = false;
    this.#setState("running");
    if (this.#rounds) {
      if (this.#manual) return;
      this.#loop = this.#collectLoop().then(() => this.#afterLoop());
    } else {
      this.#loop = this.#consumeLoop().then(() => this.#afterLoop());
    }
  }

  async #afterLoop(): Promise<void> {
    if (this.#selfExit !== null && !this.#finished) await this.#finish(this.#selfExit);
  }

  /** Stop pulling, give up waits, and wait until what is in flight is settled. */
  async #haltLoop(): Promise<void> {
    this.#halt = true;
    this.#waker.wake();
    const sub = this.#sub;
    if (sub) await sub.stop().catch(() => undefined);
    if (this.#loop) await this.#loop;
    this.#loop = null;
    await Promise.all(this.#jobs);
  }

  async #shutdownImpl(): Promise<void> {
    const impl = this.#impl as { shutdown?: () => void | Promise<void> } | null;
    if (impl?.shutdown) {
      try { await impl.shutdown(); } catch (err) { this.#log.error({ err }, "Error during shutdown of bot."); }
    }
  }

  async #finish(code: number): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#halt = true;
    this.#setState("stopping");
    await this.#shutdownImpl();
    this.#stats.final();
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
      await this.#shutdownImpl();
      this.#impl = null;
      try {
        await this.#setup(rawParams);
      } catch (err) {
        this.#log.error({ err }, "Bot initialization failed.");
        await this.#finish(1);
        return;
      }
      this.#log.info("Bot initialization completed.");
      if (wasPaused) this.#setState("paused");
      else this.#startLoop();
    });
  }

  // ---- collecting ----------------------------------------------------------------------------

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

  /** One collection round. Public for library mode. */
  collectRound(): Promise<Step> {
    if (!this.#rounds) throw new ConfigurationError(`bot ${this.botId}`, "only a collector runs rounds");
    return this.#rounds.round();
  }

  #idle(seconds: number): void {
    this.#log.info(`Idling for ${seconds.toFixed(1)}s (${secondsToHuman(seconds)}) now.`);
  }

  // ---- consuming -----------------------------------------------------------------------------

  async #consumeLoop(): Promise<void> {
    // Slow bots (HTTP lookups, retries with error_retry_delay) must not outlive the ack deadline.
    const keepalive = setInterval(() => { for (const d of this.#held.values()) d.working(); }, KEEPALIVE_MS);
    keepalive.unref();
    try {
      await this.#consumeUntilHalted(this.#res.runtime.source_queue);
    } finally {
      clearInterval(keepalive);
    }
  }

  async #consumeUntilHalted(queue: string): Promise<void> {
    let backoff = 100;
    while (!this.#halt) {
      let sub: Subscription;
      try {
        sub = await this.#broker.queues.consume(queue, { maxInFlight: this.#window });
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
            this.#settle(d, "nak");
            continue;
          }
          backoff = 100;
          await this.#take(d, sub);
        }
      } catch (err) {
        if (this.#broker.state === "closed") break;
        this.#log.warn({ err }, "Consuming from the source queue failed; reconnecting.");
        await this.#waker.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        this.#sub = null;
        await Promise.all(this.#jobs);
      }
    }
  }

  /** Start the job of one delivery, keeping the window; alone when it may be poison. */
  async #take(d: Delivery, sub: Subscription): Promise<void> {
    const rt = this.#res.runtime;
    const inProgress = this.#held.get(d.seq);
    if (inProgress && inProgress !== d) {
      // Still being handled: its outcome settles this delivery too.
      const l = this.#repeats.get(d.seq);
      if (l) l.push(d); else this.#repeats.set(d.seq, [d]);
      return;
    }
    // A redelivered message may be what killed the last process: handled alone, so that only
    // its own count of failed deliveries grows.
    const suspect = d.deliveryCount > 1 && !rt.testing;
    if (suspect) await Promise.all(this.#jobs);
    this.#held.set(d.seq, d);
    this.#active++;
    const job = this.#job(d).finally(() => {
      this.#jobs.delete(job);
      this.#held.delete(d.seq);
      this.#active--;
      this.#freeSlot();
    });
    this.#jobs.add(job);
    if (suspect || rt.run_mode === "scheduled" || (rt.rate_limit > 0 && !rt.testing)) await job;
    if (rt.run_mode === "scheduled") {
      this.#log.info("Shutting down scheduled bot.");
      if (this.#selfExit === null) this.#selfExit = 0;
      this.#halt = true;
      void sub.stop();
      return;
    }
    if (rt.rate_limit > 0 && !rt.testing && !this.#halt) {
      this.#idle(rt.rate_limit);
      await this.#waker.sleep(rt.rate_limit * 1000);
    }
    // At most `window` jobs working; those waiting for a retry make room, up to four windows held.
    while (this.#active >= this.#window || this.#jobs.size >= this.#window * 4) {
      await new Promise<void>((r) => { this.#slotFreed = r; });
    }
  }

  #freeSlot(): void {
    const f = this.#slotFreed;
    this.#slotFreed = null;
    f?.();
  }

  #settle(d: Delivery, outcome: SettledInfo["outcome"], nakDelayMs = 0): void {
    if (outcome === "nak") {
      d.nak(nakDelayMs);
      for (const r of this.#repeats.get(d.seq) ?? []) r.nak(nakDelayMs);
      this.#repeats.delete(d.seq);
    }
    this.emit("settled", { seq: d.seq, outcome });
  }

  /** The stable identity of an input for outputs: the same bytes at the same place. */
  static inputKey(d: Pick<Delivery, "queue" | "seq" | "data">): string {
    return `${d.queue}:${d.seq}:${d.data.byteLength}:${crc32(d.data)}`;
  }

  /** Handle one delivery to its end: acked, given back or left. Never throws. */
  async #job(d: Delivery): Promise<void> {
    const rt = this.#res.runtime;
    let record: AttemptRecord | null = null;
    let outbox: Outbox | null = null;
    try {
      const msgId = d.headers[MSG_ID_HEADER];
      if ((msgId !== undefined && this.#completedIds!.has(msgId)) || this.#completed.has(d.seq)) {
        // Its outputs were confirmed before; only the ack was lost (or a restarted server stored a
        // sender's retry again). Not only when redelivered: after a restart nats-server 2.9 may
        // hand back an unacked message as delivered once.
        this.#log.debug(`Message ${d.seq} was completed before; acknowledging it only.`);
        await this.#ack(d, null, null);
        return;
      }
      if (d.deliveryCount > 1 && !rt.testing) {
        record = await this.#attempts.begin(d);
        if (record.failures >= rt.error_max_deliveries) {
          outbox = this.#outbox(d);
          this.#poison(d, outbox, record.reason, record.failures);
          await outbox.finish();
          await this.#ack(d, outbox, record);
          return;
        }
      }
      outbox = this.#outbox(d);
      const decoded = decodeInput(d, {
        defaultType: this.#def.kind === "parser" ? "Report" : "Event", harmonization: this.#h, log: this.#log, dumper: this.#dumper, stats: this.#stats,
      });
      for (const e of decoded.dumps) outbox.addDump(e);
      const step = decoded.messages.length ? await this.#driver!.handle(this.#inputJob(d, outbox), decoded.messages) : "ok";
      if (step === "stop") {
        // error_procedure stop: leave the envelope unacked, stop consuming, exit 1.
        if (record) await this.#attempts.restore(d, record);
        this.#selfExit = 1;
        this.#halt = true;
        this.#waker.wake();
        void this.#sub?.stop();
        this.#settle(d, "left");
        return;
      }
      if (step === "aborted") {
        if (record) await this.#attempts.restore(d, record);
        this.#settle(d, "nak");
        return;
      }
      await outbox.finish();
      await this.#ack(d, outbox, record);
    } catch (err) {
      if (err instanceof Halted || this.#broker.state === "closed") {
        this.#log.warn({ err }, "The broker closed or the bot is stopping before the outputs were confirmed; the message stays in its queue.");
        if (record) await this.#attempts.restore(d, record).catch(() => undefined);
        this.#settle(d, "left");
        return;
      }
      // A fault of the runtime or the broker, not of the message: give it back. Counted as a
      // failed delivery, so a message that always fails this way ends in the dumps.
      this.#log.error({ err }, "Unexpected failure while handling a message; it will be redelivered.");
      if (!rt.testing) await this.#attempts.fail(d, tracebackLines(err).join(""), record).catch(() => undefined);
      this.#settle(d, "nak", rt.testing ? 0 : 1000);
    }
  }

  #outbox(d: Delivery): Outbox {
    const rt = this.#res.runtime;
    return new Outbox({
      dest: rt.destination_queues, batchSize: rt.batch_size, loadBalance: rt.load_balance, idPrefix: `${rt.source_queue}:${d.seq}`, seq: d.seq,
      sender: this.#sender, stats: this.#stats, keepAlive: () => d.working(),
      tap: this.#tap(),
    });
  }

  /** What went out is told to "output" listeners (library mode) only when there are any: it costs a copy. */
  #tap(): ((o: OutputInfo) => void) | null {
    return this.listenerCount("output") > 0 ? (o) => this.emit("output", o) : null;
  }

  #inputJob(d: Delivery, outbox: Outbox): InputJob {
    const retry: RetryEnv = {
      runtime: this.#res.runtime, log: this.#log, stats: this.#stats, waker: this.#waker,
      halted: () => this.#halt,
      keepAlive: () => d.working(),
      waiting: (on) => {
        this.#active += on ? -1 : 1;
        if (on) this.#freeSlot();
      },
    };
    return {
      outbox, retry, redelivered: d.deliveryCount > 1,
      origin: (i) => `${d.queue}:${d.seq}:${i}`,
      input: { key: BotRunner.inputKey(d), queue: d.queue, seq: d.seq },
    };
  }

  /** A message that failed error_max_deliveries times: dumped with the reason, each of its messages on its own. */
  #poison(d: Delivery, outbox: Outbox, reason: string, failures: number): void {
    const why = `${failures} deliveries of this message failed; the last: ${reason}`;
    this.#log.error(`Giving up on message ${d.seq} of ${d.queue}: ${why}.`);
    this.#stats.failure();
    const decoded = decodeInput(d, {
      defaultType: this.#def.kind === "parser" ? "Report" : "Event", harmonization: this.#h, log: this.#log, dumper: this.#dumper, stats: this.#stats,
    });
    for (const e of decoded.dumps) outbox.addDump(e);
    for (const { msg } of decoded.messages) outbox.addDump(this.#dumper.give([`${why}\n`], Dumper.text(msg), false));
  }

  async #ack(d: Delivery, outbox: Outbox | null, record: AttemptRecord | null): Promise<void> {
    this.#completed.add(d.seq);
    const msgId = d.headers[MSG_ID_HEADER];
    if (msgId !== undefined) this.#completedIds!.add(msgId);
    outbox?.report();
    for (const e of outbox?.dumps ?? []) this.emit("dump", e);
    try {
      await d.ack();
      this.emit("settled", { seq: d.seq, outcome: "acked" });
    } catch (err) {
      this.#log.warn({ err }, "Could not acknowledge a message; when it is redelivered it is only acknowledged.");
      this.emit("settled", { seq: d.seq, outcome: "left" });
    }
    for (const r of this.#repeats.get(d.seq) ?? []) await r.ack().catch(() => undefined);
    this.#repeats.delete(d.seq);
    if (record) await this.#attempts.end(d);
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
