// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's error handling of one message: an attempt that throws is retried error_max_retries
 * times, error_retry_delay apart, then given up on (dumped, sent to _on_error) or, with
 * error_procedure stop, the bot stops. An InvalidValue is given up on at once (retrying cannot
 * help), a ConfigurationError stops the bot. A broker that is unavailable (a cache call while
 * NATS is down), or an output's server (PeerUnavailable), is not the message's fault: it is waited
 * out and never counted as a retry.
 */
import type { Logger } from "pino";
import { ErrorCode, errorMessage, hasCode } from "../../errors/index.js";
import type { RuntimeParams } from "../types.js";
import type { Waker } from "../util.js";
import { Halted } from "./sender.js";
import type { Stats } from "./stats.js";

export type Step = "ok" | "stop" | "aborted";

export interface RetryEnv {
  readonly runtime: RuntimeParams;
  readonly log: Logger;
  readonly stats: Stats;
  readonly waker: Waker;
  halted(): boolean;
  /** Extends the input's ack deadline while waiting. */
  keepAlive(): void;
  /** Told when a wait begins and ends: a waiting input does not hold a processing slot. */
  waiting?(on: boolean): void;
}

export interface Attempt {
  /** One try; a throw is a failure of the message. */
  run(): Promise<void>;
  /** Undo what a failed try left (outputs it added). */
  undo?(): void;
  /** The message is given up on (after its retries): dump it, send it to _on_error. */
  giveUp(err: unknown): void | Promise<void>;
  /** The message as text for error_log_message. */
  describe(): string;
  /** Counts as a processed message in the statistics when it succeeds (default true). */
  counted?: boolean;
  /** The first try was made already and failed with this (a caller's fast path). */
  failedFirst?: { err: unknown };
}

/** Run `a` with IntelMQ's retries. "stop": error_procedure stop or a configuration error; "aborted": the bot is stopping. */
export async function withRetries(env: RetryEnv, a: Attempt): Promise<Step> {
  const rt = env.runtime;
  let outage = 0;
  let first = a.failedFirst;
  for (let attempt = 0; ;) {
    let failure: unknown;
    if (first) {
      failure = first.err;
      first = undefined;
    } else {
      try {
        await a.run();
        if (a.counted !== false) env.stats.success();
        return "ok";
      } catch (err) {
        failure = err;
        a.undo?.();
      }
    }
    if (failure instanceof Halted || env.halted()) return "aborted";
    const peer = hasCode(failure, ErrorCode.PeerUnavailable);
    if (peer || hasCode(failure, ErrorCode.BrokerUnavailable)) {
      if (outage % 20 === 0) env.log.warn({ err: failure }, `The ${peer ? "destination" : "broker"} is unavailable; the message waits for it (not counted as a retry).`);
      const full = await pause(env, Math.min(100 * 2 ** Math.min(outage, 6), 5000));
      outage++;
      if (!full || env.halted()) return "aborted";
      continue;
    }
    outage = 0;
    env.stats.failure();
    const invalid = hasCode(failure, ErrorCode.InvalidValue);
    if (invalid) env.log.error({ err: failure }, "Found an invalid value that violates the harmonization rules.");
    else logProblem(env, failure);
    if (rt.error_log_message) env.log.info(`Current Message(event): ${a.describe()}.`);
    if (hasCode(failure, ErrorCode.ConfigurationError)) return "stop";
    if (invalid || attempt >= rt.error_max_retries) {
      if (rt.error_procedure === "stop") {
        env.log.error("Giving up on the message; error_procedure is stop: leaving it in the queue and stopping.");
        return "stop";
      }
      await a.giveUp(failure);
      return "ok";
    }
    attempt++;
    const wait = rt.testing ? 0 : rt.error_retry_delay;
    env.log.info(`Bot will continue in ${wait} seconds.`);
    if (!(await pause(env, wait * 1000)) || env.halted()) return "aborted";
  }
}

/** IntelMQ's log of a failure: the exception with its traceback (error_log_exception), else its message. */
export function logProblem(env: { runtime: RuntimeParams; log: Logger }, failure: unknown): void {
  if (env.runtime.error_log_exception) {
    env.log.error({ err: failure }, "Bot has found a problem.");
  } else {
    env.log.error(errorMessage(failure));
    env.log.error("Bot has found a problem.");
  }
}

async function pause(env: RetryEnv, ms: number): Promise<boolean> {
  if (ms <= 0) return true;
  env.keepAlive();
  env.waiting?.(true);
  try {
    return await env.waker.sleep(ms);
  } finally {
    env.waiting?.(false);
  }
}
