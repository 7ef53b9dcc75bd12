// SPDX-License-Identifier: AGPL-3.0-only
/** A subscriber of a memory queue: its inbox and in-flight window. */
import type { Delivery, Subscription } from "../types.js";
import type { MemMsg } from "./queues.js";

export interface MemDelivery extends Delivery {
  unseen(): void;
}

export class MemSubscription implements Subscription {
  #inbox: MemDelivery[] = [];
  #stopped = false;
  #wake: (() => void) | null = null;
  /** Sequences handed to this subscriber and not settled: its in-flight window. */
  #seqs = new Set<number>();

  constructor(readonly max: number, readonly streamRaw: boolean, private readonly detach: () => void) {}

  hasRoom(): boolean {
    return !this.#stopped && this.#seqs.size < this.max;
  }

  push(d: MemDelivery): void {
    this.#seqs.add(d.seq);
    this.#inbox.push(d);
    this.#wakeUp();
  }

  settled(seq: number): void {
    this.#seqs.delete(seq);
  }

  /** Purge removed these: they no longer count against the window. */
  forgetAll(held: Map<number, MemMsg>): void {
    for (const seq of held.keys()) this.#seqs.delete(seq);
    this.#inbox = [];
  }

  end(): void {
    this.#stopped = true;
    this.#inbox = [];
    this.#wakeUp();
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Taken but never handed to the reader: back to the queue for others.
    const unseen = this.#inbox;
    this.#inbox = [];
    for (const d of unseen) d.unseen();
    this.detach();
    this.#wakeUp();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    try {
      for (;;) {
        const d = this.#inbox.shift();
        if (d) {
          yield d;
          continue;
        }
        if (this.#stopped) return;
        await new Promise<void>((r) => { this.#wake = r; });
      }
    } finally {
      // A reader that breaks out of the loop stops the subscription.
      if (!this.#stopped) await this.stop();
    }
  }
}

