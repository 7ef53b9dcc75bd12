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
  /** Time from a message entering the input queue to its acknowledgement (queue wait + processing). */
  latency_ms?: Histogram;
}

/** A cumulative-free histogram: counts[i] holds values <= le[i] and > le[i-1]; the last count is above every bound. */
export interface Histogram { le: number[]; counts: number[]; sum: number; count: number }

/** Bounds in milliseconds, from a fast hop to a queue that waited minutes. */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

/** The value below which a fraction q of the histogram's values lie (upper bound of its bucket; Infinity above all). */
export function quantile(h: Histogram, q: number): number {
  if (h.count === 0) return NaN;
  const want = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= want) return i < h.le.length ? h.le[i]! : Infinity;
  }
  return Infinity;
}

export class Stats {
  readonly counters: Counters = { success: 0, failure: 0, paths: {} };
  readonly #latency: Histogram = { le: LATENCY_BOUNDS_MS, counts: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0), sum: 0, count: 0 };
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

  /** An input acknowledged `ms` after it entered its queue. */
  latency(ms: number): void {
    const h = this.#latency;
    let i = 0;
    while (i < h.le.length && ms > h.le[i]!) i++;
    h.counts[i]!++;
    h.sum += ms;
    h.count++;
  }

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
    const h = this.#latency;
    return {
      success: this.counters.success, failure: this.counters.failure, paths: { ...this.counters.paths },
      latency_ms: { le: h.le, counts: [...h.counts], sum: h.sum, count: h.count },
    };
  }
}
