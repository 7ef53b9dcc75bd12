// SPDX-License-Identifier: AGPL-3.0-only
/** Statistics: IntelMQ's success/failure counters, messages sent per path, and the periodic "Processed N messages" line. */
import type { Logger } from "pino";

/** Counters since start (IntelMQ's stats.success, stats.failure, total.<path>). */
export interface Counters {
  success: number;
  /** Every failed attempt counts. */
  failure: number;
  /** Messages sent per path. */
  paths: Record<string, number>;
}

export class Stats {
  readonly counters: Counters = { success: 0, failure: 0, paths: {} };
  #since = 0;
  #start = 0;

  constructor(private log: Logger, private every: { count: number; seconds: number }) {}

  /** After a reload the new parameters and logger apply. */
  configure(log: Logger, every: { count: number; seconds: number }): void {
    this.log = log;
    this.every = every;
  }

  success(): void { this.counters.success++; }
  failure(): void { this.counters.failure++; }

  /** IntelMQ counts sent messages and logs the count every N messages or seconds. */
  sent(path: string): void {
    this.counters.paths[path] = (this.counters.paths[path] ?? 0) + 1;
    const now = Date.now();
    if (!this.#start) this.#start = now;
    this.#since++;
    if (this.#since % this.every.count === 0 || now - this.#start > this.every.seconds * 1000) {
      this.log.info(`Processed ${this.#since} messages since last logging.`);
      this.#since = 0;
      this.#start = now;
    }
  }

  /** At stop: what was sent since the last line. */
  final(): void {
    if (this.#since) this.log.info(`Processed ${this.#since} messages since last logging.`);
    this.#since = 0;
  }

  snapshot(): Counters {
    return { success: this.counters.success, failure: this.counters.failure, paths: { ...this.counters.paths } };
  }
}
