// SPDX-License-Identifier: AGPL-3.0-only
/** What a running bot looks like from outside: its handle, states, statistics, events and start options. */
import type { Logger } from "pino";
import type { Broker, DumpEntry, QueueSettings } from "../broker/index.js";
import type { Harmonization } from "../harmonization/index.js";
import type { SettledInfo } from "./consumer.js";
import type { Counters } from "./steps/stats.js";
import type { OutputInfo } from "./steps/outbox.js";
import type { BotDefinition } from "./types.js";
import type { Clock } from "./util.js";

/** Life states of a running bot. */
export type BotState = "starting" | "running" | "paused" | "reloading" | "stopping" | "stopped" | "error";

export interface BotStats extends Counters { state: BotState }


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
  /** Listeners attached before the bot starts, so that they see its first outputs too. */
  listeners?: { [E in keyof BotEvents]?: (...args: BotEvents[E]) => void };
}

