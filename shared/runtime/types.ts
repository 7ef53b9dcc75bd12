// SPDX-License-Identifier: AGPL-3.0-only
import type { z } from "zod";
import type { Logger } from "pino";
import type { Event, Message, Report } from "../message/index.js";
import type { Harmonization } from "../harmonization/index.js";
import type { ClaimLimits, ClaimSet, KvLimits, KvStore } from "../broker/index.js";
import type { RuntimeParamsParsed } from "./runtime-params.js";
import type { SkippedLine } from "./parser-driver.js";

export const BotKind = { collector: "collector", parser: "parser", expert: "expert", output: "output" } as const;
export type BotKind = (typeof BotKind)[keyof typeof BotKind];

/**
 * A message sent on a named path (default path: "_default"). A path that is not configured is an error
 * of that message, unless `permissive` (IntelMQ's path_permissive, used by filter and sieve): then the
 * message is dropped silently.
 */
export interface Routed { path: string; msg: Message; permissive?: boolean }
/** What a bot returns: nothing (drop), one message, or a list; each either plain (_default) or routed. */
export type Emit = Message | Routed | null | undefined | void | readonly (Message | Routed)[];

/** What the runtime gives a bot. */
export interface BotContext {
  readonly botId: string;
  readonly log: Logger;
  readonly harmonization: Harmonization;
  /** Effective runtime parameters (global + bot, after defaults): error_*, rate_limit, ... */
  readonly runtime: RuntimeParams;
  /** Directory for the bot's own state: var/lib/bots/<bot-id> under the root. */
  readonly stateDir: string;
  /** The project's root (INTELMQ_ROOT_DIR). */
  readonly rootDir: string;
  newEvent(report?: Report | null): Event;
  newReport(): Report;
  /**
   * A shared cache with TTL and a size limit (default: runtime.yaml's cache_max_bytes; when full,
   * its oldest keys go): JetStream KV when on NATS, memory in library mode. A TTL of 0 keeps keys
   * until deleted (or until the size limit pushes them out).
   */
  cache(bucket: string, ttlSeconds: number, limits?: KvLimits): Promise<KvStore>;
  /**
   * A shared claim set with TTL (the deduplicator's cache): keys held by their first owner, in
   * every instance's memory and on the broker. Close it in shutdown().
   */
  claims(name: string, ttlSeconds: number, limits?: ClaimLimits): Promise<ClaimSet>;
  /** True in library mode / tests (IntelMQ's `testing`). */
  readonly testing: boolean;
}

export interface Lifecycle {
  /** Called on stop and before a reload. */
  shutdown?(): void | Promise<void>;
}

/**
 * What a collector yields: Reports, or Events from a source that already carries IntelMQ's events
 * (a bridge from an IntelMQ pipeline). An Event is sent as it is: no raw required, no feed.* filled.
 */
export type Collected = Report | Event;

export interface CollectorImpl extends Lifecycle {
  /**
   * One collection round: the reports to send. The runtime fills feed.* and sends them on _default.
   * `signal` aborts when the bot stops: a collector that streams (a server, a subscription) ends
   * its iteration then (ReportStream does).
   */
  collect(signal: AbortSignal): AsyncIterable<Collected> | Iterable<Collected> | Promise<Iterable<Collected> | void>;
  /**
   * Reports are pushed to this collector (a server, a subscription): each is its own, even with the
   * same content as another (ids by arrival, not by content and round).
   */
  readonly streaming?: boolean;
  // queued and failed are given what collect() yielded, an Event too (typed Report so that the
  // collectors' settlement callbacks stay as they are).
  /** This report is stored by the broker (a pushed item may be acknowledged to its sender now). */
  queued?(report: Report): void;
  /** This report could not be stored (the round fails; a pushed item should be refused to its sender). */
  failed?(report: Report, err: unknown): void;
  /**
   * The message's id for the broker's duplicate detection, when the collector knows one that stays
   * the same if the message is sent again after a crash (default: the raw's hash and the round).
   */
  messageId?(report: Collected): string | undefined;
  /**
   * Called after every report of the round was confirmed by the broker (all PubAcks in), never when the
   * round failed: the place for side effects that lose data if done earlier (deleting a file that was read).
   * A throw fails the round (a ConfigurationError stops the bot).
   */
  commit?(): void | Promise<void>;
}

/**
 * A parser. `Row` is what parse() yields and parseLine() takes: a line (string, the default), a
 * CSV row, a JSON object... defineParser<Row>() gives both the same type.
 */
export interface ParserImpl<Row = unknown> extends Lifecycle {
  /**
   * Split the report into items (default: its decoded raw split into stripped, non-empty lines).
   * Lines deliberately left out are yielded as skipLine(line, reason), never dropped silently.
   */
  parse?(report: Report): Iterable<Row | SkippedLine> | AsyncIterable<Row | SkippedLine>;
  /**
   * One item -> events (or routed). Throwing marks the line failed: dumped and sent to _on_error
   * (LineError for "this line is no record": the dump names the parser). skipLine(line, reason)
   * declares a line deliberately not parsed (a comment, a header). An event without a field of its
   * own (only feed.*, time.observation, raw) fails the line too.
   */
  parseLine(item: Row, report: Report): Emit | SkippedLine | Iterable<Message | Routed | null | undefined> | Promise<Emit | SkippedLine>;
  /** The raw text of one item, for its event's raw and for failed-line dumps (default: the item if a string, else its JSON). */
  recoverLine?(item: Row): string;
  /** With the default parse(): lines starting with one of these are skipped (IntelMQ's _ignore_lines_starting). */
  readonly ignoreLinesStarting?: readonly string[];
  /**
   * parse() reads the raw only through reportWindows(), reportLines() or reportItems(), so a large
   * report is streamed from where it is stored instead of loaded whole (the default parse() does).
   */
  readonly streamsRaw?: boolean;
}

/** Where an event came from: stable across redeliveries of the same input. */
export interface EventMeta {
  /** `<source queue>:<stream sequence>:<content>:<index in envelope>`; the same on every redelivery. */
  readonly origin: string;
  /** The input was delivered before (a bot crashed or the broker restarted). */
  readonly redelivered: boolean;
}

export interface ExpertImpl extends Lifecycle {
  process(event: Event, meta: EventMeta): Emit | Promise<Emit>;
  /**
   * Optional: the events of one batch at once, what process() would emit for each, in order (a
   * deduplicator asks its cache about a whole batch in one round trip). When it throws, the
   * batch's events go through process() one by one, with their retries: what it did for some of
   * them must be safe to do again, as for a redelivered input.
   */
  processBatch?(events: readonly Event[], metas: readonly EventMeta[]): readonly Emit[] | Promise<readonly Emit[]>;
}

/** The input an output flushes: the same key on every redelivery of it, also after a restart. */
export interface InputRef {
  /** `<queue>:<stream sequence>:<content>` (content: length and CRC-32, base 36) */
  readonly key: string;
  readonly queue: string;
  readonly seq: number;
}

export interface OutputImpl extends Lifecycle {
  /** Deliver one event. */
  export(event: Event): void | Promise<void>;
  /**
   * Make everything exported since the last flush durable; called before the input is
   * acknowledged. When it throws, what was exported stays pending and the next call (for the same
   * input) writes it again; the input's key lets it write each input's bytes once.
   */
  flush?(input: InputRef): void | Promise<void>;
  /** Drop what was exported and not flushed (the runtime gave up on the input). */
  discard?(): void;
}

export interface ImplByKind {
  collector: CollectorImpl;
  parser: ParserImpl;
  expert: ExpertImpl;
  output: OutputImpl;
}

/** A line of `intelmqctl check`: level and message. */
export type BotCheckLine = readonly ["debug" | "info" | "warning" | "error", string];

/** What a bot's check() gets besides its parameters. */
export interface BotCheckContext {
  readonly botId: string;
  /** The project's root (INTELMQ_ROOT_DIR). */
  readonly rootDir: string;
  readonly harmonization: Harmonization;
}

/** A bot: kind, IntelMQ module name(s), zod parameter schema and a factory. */
export interface BotDefinition<K extends BotKind = BotKind, S extends z.ZodType = z.ZodType> {
  readonly kind: K;
  /** Our name (folder name). */
  readonly name: string;
  /** IntelMQ module name(s) this bot answers to. */
  readonly intelmq: string | readonly string[];
  readonly description: string;
  /** The only declaration of the bot's own parameters. */
  readonly params: S;
  /** The bot's own defaults of runtime parameters (IntelMQ's class attributes), e.g. rate_limit 3600. */
  readonly runtimeDefaults?: Partial<RuntimeParams>;
  /**
   * Tasks of the bot other than running it, by option name: `intelmq-bot <id> --update-schema`
   * runs commands["update-schema"] with the bot's parameters from runtime.yaml (IntelMQ's
   * `--update-schema` / `--update-database` class methods).
   */
  readonly commands?: Readonly<Record<string, BotCommand<z.infer<S>>>>;
  create(params: z.infer<S>, ctx: BotContext): ImplByKind[K] | Promise<ImplByKind[K]>;
  /**
   * Checks of the bot's configuration beyond its parameters' schema for `intelmqctl check`
   * (IntelMQ's Bot.check()), e.g. the syntax of a rules file. Runs with valid parameters only.
   */
  check?(params: z.infer<S>, ctx: BotCheckContext): readonly BotCheckLine[] | Promise<readonly BotCheckLine[]>;
}

/** What a bot command gets besides the bot's parameters. */
export interface BotCommandEnv {
  readonly botId: string;
  readonly log: Logger;
  /** The project's root (INTELMQ_ROOT_DIR), as BotContext.rootDir. */
  readonly rootDir: string;
  /** The bot's state directory, as BotContext.stateDir. */
  readonly stateDir: string;
}

/** A task of a bot run from the command line instead of the bot (see BotDefinition.commands). */
export interface BotCommand<P = unknown> {
  readonly description: string;
  /** Resolves to the exit code (0: done, 1: failed). */
  run(params: P, env: BotCommandEnv): Promise<number>;
}

/** IntelMQ's runtime parameters (and ours), owned by the runtime, not by bots; declared by runtimeParamsSchema. */
export type RuntimeParams = RuntimeParamsParsed;
