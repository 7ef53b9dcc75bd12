// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The in-memory broker: JetStream's queue semantics without a server, for unit tests and
 * library mode. Per-queue FIFO, deliveries held until ack/nak/term, nak redelivers with a higher
 * delivery count, msg-id dedup within the duplicate window, bounded in-flight per subscriber.
 */
import { BrokerUnavailableError } from "../errors/index.js";
import { DEFAULTS, REPLAY_HEADER } from "./names.js";
import type {
  Broker, BrokerState, ConsumeOptions, Delivery, DumpEntry, KvStore, PeekedMessage, PublishOptions, QueueInfo, QueueSettings, ReplayOptions, ReplayResult, RequestHandler,
  Service, StoredDump,
  Subscription,
} from "./types.js";

interface MemMsg {
  seq: number;
  data: Uint8Array;
  headers: Record<string, string>;
  deliveryCount: number;
  /** Bumped on every delivery, so that a stale Delivery object cannot settle a newer one. */
  epoch: number;
  gone: boolean;
}

interface MemQueue {
  name: string;
  settings: Required<Pick<QueueSettings, "maxBytes" | "duplicateWindowMs" | "archive">>;
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

/** In-memory broker with JetStream's semantics (ack/nak/redelivery, msg-id dedup), for tests and library mode. */
export class MemoryBroker implements Broker {
  readonly kind = "memory" as const;
  #state: BrokerState = "connected";
  #listeners = new Set<(s: BrokerState) => void>();
  #queues = new Map<string, MemQueue>();
  #services = new Set<{ pattern: string; handler: RequestHandler }>();
  #dumps: StoredDump[] = [];
  #dumpSeq = 0;
  #buckets = new Map<string, MemoryKv>();
  /** Log lines per bot with the time they arrived, oldest first (the logs stream's limits). */
  #logs = new Map<string, { at: number; line: string }[]>();
  #archive: { seq: number; queue: string; at: number; data: Uint8Array; headers: Record<string, string> }[] = [];
  #archiveSeq = 0;
  #archiveBytes = 0;
  #archiveLimits: { maxAgeMs: number; maxBytes: number } = { maxAgeMs: DEFAULTS.archiveMaxAgeMs, maxBytes: DEFAULTS.archiveMaxBytes };

  get state(): BrokerState {
    return this.#state;
  }

  onState(listener: (s: BrokerState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #live(): void {
    if (this.#state !== "connected") throw new BrokerUnavailableError("memory broker is closed");
  }

  #queue(name: string, settings?: QueueSettings): MemQueue {
    let q = this.#queues.get(name);
    if (!q) {
      q = {
        name,
        settings: {
          maxBytes: settings?.maxBytes ?? DEFAULTS.maxBytes,
          duplicateWindowMs: settings?.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs,
          archive: settings?.archive ?? false,
        },
        lastSeq: 0, waiting: [], redeliver: [], held: new Map(), delayed: new Map(), bytes: 0, dedup: new Map(), subs: [], rr: 0,
      };
      this.#queues.set(name, q);
    } else if (settings) {
      if (settings.maxBytes !== undefined) q.settings.maxBytes = settings.maxBytes;
      if (settings.duplicateWindowMs !== undefined) q.settings.duplicateWindowMs = settings.duplicateWindowMs;
      if (settings.archive !== undefined) q.settings.archive = settings.archive;
    }
    return q;
  }

  async ensureQueue(queue: string, settings?: QueueSettings): Promise<void> {
    this.#live();
    this.#queue(queue, settings);
    if (settings?.archiveMaxAgeMs !== undefined) this.#archiveLimits.maxAgeMs = settings.archiveMaxAgeMs;
    if (settings?.archiveMaxBytes !== undefined) this.#archiveLimits.maxBytes = settings.archiveMaxBytes;
  }

  async publish(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<void> {
    this.#accept(queue, data, opts);
  }

  /** publish(); false when the msg-id was a duplicate. */
  #accept(queue: string, data: Uint8Array, opts?: PublishOptions): boolean {
    this.#live();
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
      throw new BrokerUnavailableError(`queue ${queue} is full (max_bytes ${q.settings.maxBytes})`);
    }
    if (opts?.msgId !== undefined) q.dedup.set(opts.msgId, now);
    const msg: MemMsg = {
      seq: ++q.lastSeq, data: new Uint8Array(data), headers: { ...(opts?.headers ?? {}) }, deliveryCount: 0, epoch: 0, gone: false,
    };
    q.bytes += msg.data.byteLength;
    q.waiting.push(msg);
    if (q.settings.archive) this.#toArchive(queue, msg);
    this.#dispatch(q);
    return true;
  }

  /** The archive stream: a copy of what archived queues accepted, limited by age and bytes. */
  #toArchive(queue: string, msg: MemMsg): void {
    const now = Date.now();
    this.#archive.push({ seq: ++this.#archiveSeq, queue, at: now, data: msg.data, headers: { ...msg.headers } });
    this.#archiveBytes += msg.data.byteLength;
    let drop = 0;
    while (drop < this.#archive.length && (
      this.#archiveBytes > this.#archiveLimits.maxBytes || this.#archive[drop]!.at < now - this.#archiveLimits.maxAgeMs)) {
      this.#archiveBytes -= this.#archive[drop]!.data.byteLength;
      drop++;
    }
    if (drop > 0) this.#archive.splice(0, drop);
  }

  async replay(queue: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
    this.#live();
    const target = opts.target ?? queue;
    const result: ReplayResult = { queue, target, replayed: 0, duplicates: 0, missing: 0, firstSeq: null, lastSeq: null };
    const since = opts.since?.getTime() ?? -Infinity;
    const until = opts.until?.getTime() ?? Infinity;
    const oldest = Date.now() - this.#archiveLimits.maxAgeMs;
    // Only what was there when the replay started: replaying into an archived queue archives again.
    const picked = this.#archive.filter((a) => a.queue === queue && a.headers[REPLAY_HEADER] === undefined && a.at >= since && a.at <= until && a.at >= oldest);
    for (const a of picked) {
      result.firstSeq ??= a.seq;
      result.lastSeq = a.seq;
      if (opts.dryRun) { result.replayed++; continue; }
      const fresh = this.#accept(target, a.data, { msgId: `replay:${a.seq}`, headers: { ...a.headers, [REPLAY_HEADER]: String(a.seq) } });
      if (fresh) result.replayed++; else result.duplicates++;
    }
    return result;
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
      data: msg.data,
      headers: msg.headers,
      seq: msg.seq,
      deliveryCount: msg.deliveryCount,
      ack: async () => {
        if (settle()) remove();
        this.#dispatch(q);
      },
      nak: (delayMs?: number) => {
        if (!settle()) return;
        if (delayMs && delayMs > 0) {
          const t = setTimeout(() => {
            q.delayed.delete(msg);
            if (!msg.gone && this.#state === "connected") {
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
    this.#live();
    const q = this.#queue(queue);
    const max = Math.max(1, opts?.maxInFlight ?? DEFAULTS.maxInFlight);
    const sub = new MemSubscription(max, () => {
      q.subs = q.subs.filter((s) => s !== sub);
      this.#dispatch(q);
    });
    q.subs.push(sub);
    this.#dispatch(q);
    return sub;
  }

  async depth(queue: string): Promise<number> {
    const q = this.#queues.get(queue);
    if (!q) return 0;
    return q.waiting.length + q.redeliver.length + q.held.size + q.delayed.size;
  }

  async peek(queue: string): Promise<PeekedMessage | null> {
    const q = this.#queues.get(queue);
    if (!q) return null;
    let first: MemMsg | null = null;
    for (const m of [...q.redeliver, ...q.waiting, ...q.held.values(), ...q.delayed.keys()]) if (!first || m.seq < first.seq) first = m;
    return first ? { seq: first.seq, data: first.data, headers: { ...first.headers } } : null;
  }

  async purge(queue: string): Promise<number> {
    this.#live();
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

  async listQueues(): Promise<string[]> {
    return [...this.#queues.keys()].sort();
  }

  async dump(entry: DumpEntry): Promise<void> {
    this.#live();
    this.#dumps.push({ ...structuredClone(entry), seq: ++this.#dumpSeq });
  }

  async readDumps(botId?: string): Promise<StoredDump[]> {
    return this.#dumps.filter((d) => botId === undefined || d.bot_id === botId).map((d) => structuredClone(d));
  }

  async deleteDump(seq: number): Promise<boolean> {
    const i = this.#dumps.findIndex((d) => d.seq === seq);
    if (i < 0) return false;
    this.#dumps.splice(i, 1);
    return true;
  }

  appendLog(botId: string, line: string): void {
    if (this.#state !== "connected") return;
    let list = this.#logs.get(botId);
    if (!list) this.#logs.set(botId, (list = []));
    list.push({ at: Date.now(), line: line.endsWith("\n") ? line.slice(0, -1) : line });
    // Discard old: past the per-bot limit the oldest line goes.
    if (list.length > DEFAULTS.logsMaxPerBot) list.splice(0, list.length - DEFAULTS.logsMaxPerBot);
  }

  async readLogs(botId: string, max: number): Promise<string[]> {
    const list = this.#logs.get(botId);
    if (!list || !(max > 0)) return [];
    const oldest = Date.now() - DEFAULTS.logsMaxAgeMs;
    const alive = list.findIndex((e) => e.at >= oldest);
    if (alive < 0) list.length = 0; else if (alive > 0) list.splice(0, alive);
    return list.slice(Math.max(0, list.length - max)).map((e) => e.line);
  }

  async cache(bucket: string, ttlSeconds: number): Promise<KvStore> {
    this.#live();
    let kv = this.#buckets.get(bucket);
    if (!kv) {
      kv = new MemoryKv(ttlSeconds * 1000);
      this.#buckets.set(bucket, kv);
    }
    return kv;
  }

  async openCache(bucket: string): Promise<KvStore | null> {
    this.#live();
    return this.#buckets.get(bucket) ?? null;
  }

  async deleteCache(bucket: string): Promise<boolean> {
    this.#live();
    return this.#buckets.delete(bucket);
  }

  async deleteQueue(queue: string): Promise<boolean> {
    this.#live();
    const q = this.#queues.get(queue);
    if (!q) return false;
    await this.purge(queue);
    for (const s of q.subs) s.end();
    this.#queues.delete(queue);
    return true;
  }

  async queueInfo(queue: string): Promise<QueueInfo> {
    const q = this.#queues.get(queue);
    const depth = await this.depth(queue);
    return { depth, exists: q !== undefined, archived: q?.settings.archive ?? false, stored: depth };
  }

  serverInfo(): { version: string; url: string } {
    return { version: "memory", url: "memory:" };
  }

  async serve(subject: string, handler: RequestHandler): Promise<Service> {
    this.#live();
    const entry = { pattern: subject, handler };
    this.#services.add(entry);
    return { stop: async () => { this.#services.delete(entry); } };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const replies = await this.#ask(subject, data, true);
    if (replies.length === 0) throw new BrokerUnavailableError(`no reply on ${subject} within ${timeoutMs} ms`);
    return replies[0]!;
  }

  async requestMany(subject: string, data: Uint8Array, _waitMs: number): Promise<Uint8Array[]> {
    return this.#ask(subject, data, false);
  }

  async #ask(subject: string, data: Uint8Array, first: boolean): Promise<Uint8Array[]> {
    this.#live();
    const out: Uint8Array[] = [];
    for (const s of [...this.#services]) {
      if (!subjectMatches(s.pattern, subject)) continue;
      try {
        out.push(await s.handler(data, subject));
        if (first) break;
      } catch {
        // a failing handler replies nothing, as on NATS
      }
    }
    return out;
  }

  /** Close: every held delivery goes back to its queue (as a lost connection would), nothing more is accepted. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    for (const q of this.#queues.values()) {
      for (const s of q.subs) s.end();
      for (const m of q.held.values()) this.#requeue(q, m);
      q.held.clear();
      for (const [m, t] of q.delayed) { clearTimeout(t); this.#requeue(q, m); }
      q.delayed.clear();
      q.subs = [];
    }
    this.#state = "closed";
    for (const l of this.#listeners) l("closed");
  }
}

interface MemDelivery extends Delivery {
  unseen(): void;
}

class MemSubscription implements Subscription {
  #inbox: MemDelivery[] = [];
  #stopped = false;
  #wake: (() => void) | null = null;
  /** Sequences handed to this subscriber and not settled: its in-flight window. */
  #seqs = new Set<number>();

  constructor(readonly max: number, private readonly detach: () => void) {}

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

/** NATS subject matching: `*` one token, `>` the rest. */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split("."), t = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (i >= t.length || (p[i] !== "*" && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

class MemoryKv implements KvStore {
  #map = new Map<string, { value: string; expires: number }>();
  constructor(private readonly ttlMs: number) {}

  #alive(key: string): { value: string; expires: number } | undefined {
    const e = this.#map.get(key);
    if (e && this.ttlMs > 0 && Date.now() >= e.expires) {
      this.#map.delete(key);
      return undefined;
    }
    return e;
  }

  async create(key: string, value: string): Promise<boolean> {
    if (this.#alive(key)) return false;
    this.#map.set(key, { value, expires: Date.now() + this.ttlMs });
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.#alive(key)?.value ?? null;
  }

  async put(key: string, value: string): Promise<void> {
    this.#map.set(key, { value, expires: Date.now() + this.ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.#map.delete(key);
  }

  async size(): Promise<number> {
    return this.#map.size;
  }

  async entries(prefix = ""): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const k of [...this.#map.keys()].sort()) {
      const e = k.startsWith(prefix) ? this.#alive(k) : undefined;
      if (e) out.set(k, e.value);
    }
    return out;
  }
}
