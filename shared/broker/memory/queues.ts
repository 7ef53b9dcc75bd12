// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Queues in memory with JetStream's semantics: per-queue FIFO, deliveries held until
 * ack/nak/term, nak redelivers with a higher delivery count, msg-id dedup within the duplicate
 * window, max_bytes and max_msgs pushing back, bounded in-flight per subscriber, archiving of archived queues.
 */
import { BrokerUnavailableError } from "../../errors/index.js";
import { DEFAULTS } from "../names.js";
import { splitFramed } from "../framed.js";
import type { ConsumeOptions, PeekedMessage, PublishOptions, QueueInfo, Queues, QueueSettings, Subscription } from "../types.js";
import type { MemArchive } from "./archive.js";
import { MemSubscription, type MemDelivery } from "./subscription.js";
import type { MemState } from "./state.js";

export interface MemMsg {
  seq: number;
  data: Uint8Array;
  headers: Record<string, string>;
  deliveryCount: number;
  published: number;
  /** Bumped on every delivery, so that a stale Delivery object cannot settle a newer one. */
  epoch: number;
  gone: boolean;
}

interface MemQueue {
  name: string;
  settings: Required<Pick<QueueSettings, "maxBytes" | "maxMsgs" | "duplicateWindowMs" | "archive">>;
  lastSeq: number;
  /** Never delivered yet, FIFO. */
  waiting: MemMsg[];
  /** Given back by nak, redelivered before new ones, lowest sequence first. */
  redeliver: MemMsg[];
  /** Held by a subscriber (or its inbox). */
  held: Map<number, MemMsg>;
  /** nak'ed with a delay, not yet due. */
  delayed: Map<MemMsg, NodeJS.Timeout>;
  bytes: number;
  /** msg-id -> time it was remembered. */
  dedup: Map<string, number>;
  subs: MemSubscription[];
  rr: number;
}

/** The limit `next` (-1: none), or `have` when `next` is lower and the queue holds more than half of it. */
function lowered(have: number, next: number, held: number): number {
  const lowering = next > 0 && (have <= 0 || next < have);
  return lowering && held * 2 > next ? have : next;
}

export class MemQueues implements Queues {
  readonly #queues = new Map<string, MemQueue>();

  constructor(private readonly m: MemState, private readonly archive: MemArchive) {}

  #queue(name: string, settings?: QueueSettings): MemQueue {
    let q = this.#queues.get(name);
    if (!q) {
      q = {
        name,
        settings: {
          maxBytes: settings?.maxBytes ?? DEFAULTS.maxBytes,
          maxMsgs: settings?.maxMsgs ?? DEFAULTS.maxMsgs,
          duplicateWindowMs: settings?.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs,
          archive: settings?.archive ?? false,
        },
        lastSeq: 0, waiting: [], redeliver: [], held: new Map(), delayed: new Map(), bytes: 0, dedup: new Map(), subs: [], rr: 0,
      };
      this.#queues.set(name, q);
    } else if (settings) {
      // As on JetStream: explicit settings replace the limits, a lower one only while the queue
      // holds at most half of it.
      q.settings.maxBytes = lowered(q.settings.maxBytes, settings.maxBytes ?? DEFAULTS.maxBytes, q.bytes);
      q.settings.maxMsgs = lowered(q.settings.maxMsgs, settings.maxMsgs ?? DEFAULTS.maxMsgs, this.#held(q));
      if (settings.duplicateWindowMs !== undefined) q.settings.duplicateWindowMs = settings.duplicateWindowMs;
      if (settings.archive !== undefined) q.settings.archive = settings.archive;
    }
    return q;
  }

  async ensure(queue: string, settings?: QueueSettings): Promise<void> {
    this.m.live();
    this.#queue(queue, settings);
    this.archive.limit(settings);
  }

  async publish(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<void> {
    this.accept(queue, data, opts);
  }

  /** publish(); false when the msg-id was a duplicate. */
  accept(queue: string, data: Uint8Array, opts?: PublishOptions): boolean {
    this.m.live();
    const q = this.#queue(queue);
    const now = Date.now();
    if (opts?.msgId !== undefined) {
      // Forget ids older than the window (Map keeps insertion order: oldest first).
      for (const [id, t] of q.dedup) {
        if (now - t < q.settings.duplicateWindowMs) break;
        q.dedup.delete(id);
      }
      if (q.dedup.has(opts.msgId)) return false;
    }
    if (q.bytes + data.byteLength > q.settings.maxBytes) {
      throw new BrokerUnavailableError(`queue ${queue} is full: maximum bytes exceeded (max_bytes ${q.settings.maxBytes})`);
    }
    if (q.settings.maxMsgs > 0 && this.#held(q) >= q.settings.maxMsgs) {
      throw new BrokerUnavailableError(`queue ${queue} is full: maximum messages exceeded (max_msgs ${q.settings.maxMsgs})`);
    }
    if (opts?.msgId !== undefined) q.dedup.set(opts.msgId, now);
    const msg: MemMsg = {
      seq: ++q.lastSeq, data: new Uint8Array(data), headers: { ...(opts?.headers ?? {}), ...(opts?.msgId !== undefined ? { "Nats-Msg-Id": opts.msgId } : {}) }, deliveryCount: 0, published: now, epoch: 0, gone: false,
    };
    q.bytes += msg.data.byteLength;
    q.waiting.push(msg);
    if (q.settings.archive) this.archive.add(queue, msg);
    this.#dispatch(q);
    return true;
  }

  /** Hand out messages to subscribers with room, round robin. */
  #dispatch(q: MemQueue): void {
    for (;;) {
      const next = q.redeliver[0] ?? q.waiting[0];
      if (!next) return;
      const n = q.subs.length;
      let target: MemSubscription | null = null;
      for (let i = 0; i < n; i++) {
        const s = q.subs[(q.rr + i) % n]!;
        if (s.hasRoom()) { target = s; q.rr = (q.rr + i + 1) % n; break; }
      }
      if (!target) return;
      if (q.redeliver[0] === next) q.redeliver.shift(); else q.waiting.shift();
      next.deliveryCount++;
      next.epoch++;
      q.held.set(next.seq, next);
      target.push(this.#delivery(q, next, target));
    }
  }

  #delivery(q: MemQueue, msg: MemMsg, sub: MemSubscription): MemDelivery {
    const epoch = msg.epoch;
    // Settles at most once, and only while this is the message's current delivery.
    const settle = (): boolean => {
      if (msg.gone || msg.epoch !== epoch || !q.held.has(msg.seq)) return false;
      q.held.delete(msg.seq);
      sub.settled(msg.seq);
      return true;
    };
    const remove = () => {
      msg.gone = true;
      q.bytes -= msg.data.byteLength;
    };
    const d: MemDelivery = {
      queue: q.name,
      ...(sub.streamRaw ? splitFramed(msg.data) : { data: msg.data }),
      headers: msg.headers,
      seq: msg.seq,
      deliveryCount: msg.deliveryCount,
      published: msg.published,
      ack: async () => {
        if (settle()) remove();
        this.#dispatch(q);
      },
      nak: (delayMs?: number) => {
        if (!settle()) return;
        if (delayMs && delayMs > 0) {
          const t = setTimeout(() => {
            q.delayed.delete(msg);
            if (!msg.gone && this.m.state === "connected") {
              this.#requeue(q, msg);
              this.#dispatch(q);
            }
          }, delayMs);
          t.unref?.();
          q.delayed.set(msg, t);
        } else {
          this.#requeue(q, msg);
        }
        this.#dispatch(q);
      },
      term: () => {
        if (settle()) remove();
        this.#dispatch(q);
      },
      working: () => { /* no ack deadline in memory */ },
      unseen: () => {
        // Back to the queue as if never delivered (taken from an inbox nobody read).
        if (!settle()) return;
        msg.deliveryCount--;
        this.#requeue(q, msg);
      },
    };
    return d;
  }

  #requeue(q: MemQueue, msg: MemMsg): void {
    const i = q.redeliver.findIndex((m) => m.seq > msg.seq);
    if (i < 0) q.redeliver.push(msg); else q.redeliver.splice(i, 0, msg);
  }

  async consume(queue: string, opts?: ConsumeOptions): Promise<Subscription> {
    this.m.live();
    const q = this.#queue(queue);
    const max = Math.max(1, opts?.maxInFlight ?? DEFAULTS.maxInFlight);
    const sub = new MemSubscription(max, opts?.streamRaw === true, () => {
      q.subs = q.subs.filter((s) => s !== sub);
      this.#dispatch(q);
    });
    q.subs.push(sub);
    this.#dispatch(q);
    return sub;
  }

  /** Messages the queue holds (waiting, held, given back): what counts against max_msgs. */
  #held(q: MemQueue): number {
    return q.waiting.length + q.redeliver.length + q.held.size + q.delayed.size;
  }

  async depth(queue: string): Promise<number> {
    const q = this.#queues.get(queue);
    return q ? this.#held(q) : 0;
  }

  async peek(queue: string): Promise<PeekedMessage | null> {
    const q = this.#queues.get(queue);
    if (!q) return null;
    let first: MemMsg | null = null;
    for (const m of [...q.redeliver, ...q.waiting, ...q.held.values(), ...q.delayed.keys()]) if (!first || m.seq < first.seq) first = m;
    return first ? { seq: first.seq, data: first.data, headers: { ...first.headers } } : null;
  }

  /** A memory queue never outlives a crash of its broker: no strays. */
  async strays(_queue: string, _max?: number): Promise<PeekedMessage[]> {
    return [];
  }

  async remove(queue: string, seq: number): Promise<boolean> {
    this.m.live();
    const q = this.#queues.get(queue);
    if (!q) return false;
    for (const list of [q.waiting, q.redeliver]) {
      const i = list.findIndex((m) => m.seq === seq);
      if (i < 0) continue;
      const [m] = list.splice(i, 1);
      m!.gone = true;
      q.bytes -= m!.data.byteLength;
      return true;
    }
    return false;
  }

  async purge(queue: string): Promise<number> {
    this.m.live();
    const q = this.#queues.get(queue);
    if (!q) return 0;
    let n = 0;
    for (const m of [...q.waiting, ...q.redeliver, ...q.held.values(), ...q.delayed.keys()]) {
      m.gone = true;
      n++;
    }
    for (const t of q.delayed.values()) clearTimeout(t);
    q.waiting = [];
    q.redeliver = [];
    q.delayed.clear();
    for (const s of q.subs) s.forgetAll(q.held);
    q.held.clear();
    q.bytes = 0;
    return n;
  }

  async list(): Promise<string[]> {
    return [...this.#queues.keys()].sort();
  }

  async delete(queue: string): Promise<boolean> {
    this.m.live();
    const q = this.#queues.get(queue);
    if (!q) return false;
    await this.purge(queue);
    for (const s of q.subs) s.end();
    this.#queues.delete(queue);
    return true;
  }

  async info(queue: string): Promise<QueueInfo> {
    const q = this.#queues.get(queue);
    const depth = await this.depth(queue);
    const limit = (n: number | undefined) => (n === undefined || n <= 0 ? null : n);
    return {
      depth, exists: q !== undefined, archived: q?.settings.archive ?? false, stored: depth,
      bytes: q?.bytes ?? 0, maxBytes: limit(q?.settings.maxBytes), maxMsgs: limit(q?.settings.maxMsgs),
    };
  }

  /** Every held delivery goes back to its queue (as a lost connection would). */
  handBack(): void {
    for (const q of this.#queues.values()) {
      for (const s of q.subs) s.end();
      for (const m of q.held.values()) this.#requeue(q, m);
      q.held.clear();
      for (const [m, t] of q.delayed) { clearTimeout(t); this.#requeue(q, m); }
      q.delayed.clear();
      q.subs = [];
    }
  }
}
