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
import type { Logger } from "pino";
import { loadHarmonization, type Harmonization } from "../harmonization/index.js";
import { newEvent, Report as ReportClass, type Event, type Report } from "../message/index.js";
import { DEFAULTS as BROKER_DEFAULTS, type Broker, type ClaimLimits, type KvLimits, type QueueSettings } from "../broker/index.js";
import { ConfigurationError, ErrorCode, hasCode } from "../errors/index.js";
import type { BotContext, BotDefinition, BotKind, CollectorImpl, ExpertImpl, OutputImpl, ParserImpl } from "./types.js";
import { loggedSecretKeys, resolveParams, type ResolvedParams } from "./runtime-params.js";
import { createLogger, redactParams } from "./logger.js";
import { Waker, secondsToHuman } from "./util.js";
import { Stats } from "./steps/stats.js";
import { Sender } from "./steps/sender.js";
import { Dumper } from "./steps/dumps.js";
import type { OutputInfo } from "./steps/outbox.js";
import { Consumer, type ConsumerHost } from "./consumer.js";
import type { BotEvents, BotHandle, BotState, BotStats, StartBotOptions } from "./handle.js";
import { Attempts } from "./steps/attempts.js";
import type { Step } from "./steps/retry.js";
import type { InputDriver } from "./drivers/driver.js";
import { expertDriver } from "./drivers/expert.js";
import { parserDriver } from "./drivers/parser.js";
import { outputDriver } from "./drivers/output.js";
import { CollectorRounds } from "./drivers/collector.js";

/** The project's root: INTELMQ_ROOT_DIR, else the folder above dist/ (or above shared/ in sources). */
export function defaultRootDir(): string {
  if (process.env.INTELMQ_ROOT_DIR) return process.env.INTELMQ_ROOT_DIR;
  let d = dirname(fileURLToPath(import.meta.url));
  while (!d.endsWith("/dist") && d !== "/") d = dirname(d);
  return d === "/" ? join(dirname(fileURLToPath(import.meta.url)), "..", "..") : dirname(d);
}

const DEFAULT_WINDOW = 8;

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
  #loop: Promise<void> | null = null;
  #consumer: Consumer | null = null;
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
    this.#log.level = levelOf(rt.logging_level);
    // A parameter this bot does not know may be another bot's secret given under global: hidden too.
    const hidden = [...loggedSecretKeys(this.#def), ...res.unknown];
    for (const [k, v] of Object.entries(redactParams(raw, hidden))) this.#log.debug(`Runtime configuration: parameter ${JSON.stringify(k)} loaded with value ${JSON.stringify(v)}.`);
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
      runtime: rt, stateDir, rootDir: this.#rootDir,
      newEvent: (report?: Report | null): Event => newEvent(report ?? null, { harmonization: h, copyFields }),
      newReport: (): Report => new ReportClass(null, { harmonization: h }),
      cache: (bucket: string, ttl: number, limits?: KvLimits) => broker.kv.open(bucket, ttl, { maxBytes: limits?.maxBytes ?? broker.limits.cacheMaxBytes }),
      claims: (name: string, ttl: number, limits?: ClaimLimits) => broker.kv.claims(name, ttl, limits),
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
      this.#consumer ??= new Consumer(this.#consumerHost(), this.#settingsFor?.(this.#res.runtime.source_queue)?.duplicateWindowMs ?? BROKER_DEFAULTS.duplicateWindowMs);
      this.#loop = this.#consumer.run().then(() => this.#afterLoop());
    }
  }

  async #afterLoop(): Promise<void> {
    if (this.#selfExit !== null && !this.#finished) await this.#finish(this.#selfExit);
  }

  /** Stop pulling, give up waits, and wait until what is in flight is settled. */
  async #haltLoop(): Promise<void> {
    this.#halt = true;
    this.#waker.wake();
    this.#rounds?.abort();
    await this.#consumer?.stopPulling();
    if (this.#loop) await this.#loop;
    this.#loop = null;
    await this.#consumer?.idle();
  }

  /** What the consumer needs of this bot (its parameters may change with a reload). */
  #consumerHost(): ConsumerHost {
    return {
      broker: this.#broker, waker: this.#waker, window: this.#window, kind: this.#def.kind,
      stats: this.#stats, sender: this.#sender, dumper: this.#dumper, attempts: this.#attempts,
      log: () => this.#log,
      runtime: () => this.#res.runtime,
      harmonization: () => this.#h,
      driver: () => this.#driver!,
      halted: () => this.#halt,
      end: (code) => {
        if (this.#selfExit === null) this.#selfExit = code;
        this.#halt = true;
        this.#waker.wake();
      },
      settled: (info) => this.emit("settled", info),
      tap: () => this.#tap(),
      dumped: (e) => this.emit("dump", e),
    };
  }

  /** What went out is told to "output" listeners (library mode) only when there are any: it costs a copy. */
  #tap(): ((o: OutputInfo) => void) | null {
    return this.listenerCount("output") > 0 ? (o) => this.emit("output", o) : null;
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
      if (step === "aborted" || this.#halt) break; // stopped during the round (streaming ends so): no idling
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
  for (const [event, listener] of Object.entries(opts.listeners ?? {})) r.on(event as keyof BotEvents, listener as (...args: unknown[]) => void);
  await r.init();
  return r;
}
