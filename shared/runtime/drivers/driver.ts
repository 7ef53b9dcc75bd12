// SPDX-License-Identifier: AGPL-3.0-only
/** What a driver gets: one input's messages, and the steps around the bot (retries, outbox, dumps). */
import type { Logger } from "pino";
import { Message } from "../../message/index.js";
import { normaliseEmit } from "../parser-driver.js";
import { checkRoutes } from "../steps/outbox.js";
import type { Dumper } from "../steps/dumps.js";
import type { Outbox } from "../steps/outbox.js";
import type { RetryEnv, Step } from "../steps/retry.js";
import type { InputRef, Routed } from "../types.js";

/** One input envelope being handled. */
export interface InputJob {
  readonly outbox: Outbox;
  readonly retry: RetryEnv;
  /** Where message `index` of the envelope came from: `<queue>:<seq>:<index>`. */
  origin(index: number): string;
  /** The input was delivered before. */
  readonly redelivered: boolean;
  /** A stable identity of the input, across redeliveries and restarts. */
  readonly input: InputRef;
}

/** What the drivers of one bot share. */
export interface DriverEnv {
  readonly dest: Readonly<Record<string, string[]>>;
  readonly dumper: Dumper;
  readonly log: Logger;
}

/** Messages of one input with their index in its envelope, a batch (a chunk of the envelope) at a time. */
export type InputBatches = Iterable<readonly { msg: Message; index: number }[]>;

/**
 * Turns the valid messages of one input into outputs (in job.outbox) with the bot's help. A
 * chunked envelope is decoded as its batches are iterated: a driver that is done with a batch
 * before it takes the next lets its events die young. The batches can be iterated again (the
 * input decoded anew, without dumping what is invalid twice).
 */
export interface InputDriver {
  handle(job: InputJob, batches: InputBatches): Promise<Step>;
}

/** The worst of several outcomes: stop before aborted before ok. */
export function worst(steps: readonly Step[]): Step {
  return steps.includes("stop") ? "stop" : steps.includes("aborted") ? "aborted" : "ok";
}

/**
 * What a bot gave for one item, as the outbox takes it: a message for _default as it is (what
 * most bots give: no route objects per event), else its routes, checked (PipelineError for a
 * path not configured).
 */
export function outputsOf(dest: Readonly<Record<string, string[]>>, emitted: unknown): Message | Routed[] {
  return emitted instanceof Message && Object.hasOwn(dest, "_default") ? emitted : checkRoutes(dest, normaliseEmit(emitted));
}
