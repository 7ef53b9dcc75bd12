// SPDX-License-Identifier: AGPL-3.0-only
/**
 * For collectors whose reports are pushed to them (an HTTP endpoint, a TCP listener, a message
 * bus subscription): push() from the source's callbacks, and collect() returns drain(signal),
 * which yields them as they come and ends when the bot stops. Each pushed report may carry its
 * own settlement (answer the sender, ack the bus message) once the broker stored it or failed to.
 */
import type { Message, Report } from "../message/index.js";

export interface Settlement {
  queued(): void;
  failed(err: unknown): void;
}

/** Pushed reports (or, for a bridge, messages of either kind: ReportStream<Event | Report>). */
export class ReportStream<M extends Message = Report> {
  #items: M[] = [];
  #wake: (() => void) | null = null;
  readonly #settle = new WeakMap<M, Settlement>();

  /** Reports waiting to be taken by drain(). */
  get size(): number { return this.#items.length; }

  push(report: M, settle?: Settlement): void {
    if (settle) this.#settle.set(report, settle);
    this.#items.push(report);
    this.#wake?.();
  }

  /** For CollectorImpl.queued. */
  queued(report: M): void {
    this.#settle.get(report)?.queued();
    this.#settle.delete(report);
  }

  /** For CollectorImpl.failed. */
  failed(report: M, err: unknown): void {
    this.#settle.get(report)?.failed(err);
    this.#settle.delete(report);
  }

  /** Reports as they are pushed, until `signal` aborts (those pushed before are still yielded). */
  async *drain(signal: AbortSignal): AsyncGenerator<M> {
    const onAbort = () => this.#wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        const next = this.#items.shift();
        if (next) { yield next; continue; }
        if (signal.aborted) return;
        await new Promise<void>((resolve) => { this.#wake = resolve; });
        this.#wake = null;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Refuse what was pushed and not taken (the bot stops for good). */
  close(err: unknown): void {
    for (const r of this.#items.splice(0)) this.failed(r, err);
  }
}
