// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Publish-then-ack, the publishing half: what one input produces, per path, in envelopes of
 * batch_size with message ids derived from the input (`<source queue>:<seq>:<content>:<path>:<queue>:<k>`),
 * so that a redelivered input republishes the same ids and the server drops the repeats.
 * Envelopes are published as they fill, with a bounded number awaiting confirmation, so a large
 * report never holds all its events in memory. finish() publishes the rest, stores the dumps and
 * resolves once the broker confirmed everything; only then may the input be acknowledged.
 */
import type { DumpEntry } from "../../broker/index.js";
import { encodeEnvelope, type Message } from "../../message/index.js";
import { PipelineError } from "../../errors/index.js";
import type { Routed } from "../types.js";
import type { Sender } from "./sender.js";
import type { Stats } from "./stats.js";

/** Messages confirmed by the broker on one path (one envelope's worth). */
export interface OutputInfo { path: string; queues: string[]; messages: Record<string, unknown>[] }

/** Envelopes stay below this size so that they travel as one NATS message (default max_payload 1 MiB). */
export const ENVELOPE_MAX_BYTES = 768 * 1024;

/**
 * Messages in envelopes of up to batchSize, an envelope over ENVELOPE_MAX_BYTES split in halves
 * until it fits (or holds one message). Deterministic: a redelivered input gives the same
 * envelopes, so their message ids repeat and the server drops the copies.
 */
export function* envelopes(msgs: readonly Message[], batchSize: number): Generator<{ chunk: readonly Message[]; bytes: Uint8Array }> {
  function* fit(chunk: readonly Message[]): Generator<{ chunk: readonly Message[]; bytes: Uint8Array }> {
    const bytes = encodeEnvelope(chunk);
    if (bytes.byteLength <= ENVELOPE_MAX_BYTES || chunk.length === 1) {
      yield { chunk, bytes };
      return;
    }
    const half = Math.ceil(chunk.length / 2);
    yield* fit(chunk.slice(0, half));
    yield* fit(chunk.slice(half));
  }
  for (let c = 0; c < msgs.length; c += batchSize) yield* fit(msgs.slice(c, c + batchSize));
}

/** Check paths: an unknown path is a PipelineError of the message unless the send is permissive. */
export function checkRoutes(dest: Readonly<Record<string, string[]>>, routed: readonly Routed[]): Routed[] {
  const out: Routed[] = [];
  for (const r of routed) {
    if (!r || typeof r !== "object" || !("msg" in r) || typeof (r.msg as { serialize?: unknown })?.serialize !== "function") {
      throw new TypeError("bot returned a routed entry without a message");
    }
    if (!Object.hasOwn(dest, r.path)) {
      if (r.permissive) continue;
      throw new PipelineError(`destination path ${JSON.stringify(r.path)} is not configured in destination_queues`);
    }
    out.push(r);
  }
  return out;
}

export interface OutboxOptions {
  dest: Readonly<Record<string, string[]>>;
  batchSize: number;
  loadBalance: boolean;
  /** `<source queue>:<seq>:<content>` (content: the input's length and CRC-32) */
  idPrefix: string;
  /** The input's stream sequence: load balancing picks `(seq + k) % queues`, the same on every redelivery. */
  seq: number;
  sender: Sender;
  stats: Stats;
  /** Told about each envelope the broker confirmed (library mode), after the input was acked. */
  tap: ((o: OutputInfo) => void) | null;
  /** Extends the input's ack deadline while waiting. */
  keepAlive: () => void;
  /** Envelopes awaiting confirmation at most (default 1: the next one fills meanwhile); add() asks the caller to wait beyond. */
  maxPending?: number;
}

/** Where an input's outputs go back to for a retry of one message. */
export interface OutboxMark { lengths: Map<string, number>; k: Map<string, number>; dumps: number }

export class Outbox {
  readonly #o: OutboxOptions;
  readonly #lists = new Map<string, Message[]>();
  readonly #k = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  readonly #dumps: DumpEntry[] = [];
  readonly #taps: OutputInfo[] = [];
  #failure: { err: unknown } | null = null;
  #sealed = false;

  constructor(opts: OutboxOptions) {
    this.#o = opts;
  }

  /** Send `msg` on `path` (checked by checkRoutes). Returns a promise to await when too much is unconfirmed. */
  add(path: string, msg: Message): Promise<void> | undefined {
    let l = this.#lists.get(path);
    if (!l) this.#lists.set(path, (l = []));
    l.push(msg);
    this.#o.stats.sent(path);
    if (l.length >= this.#o.batchSize) {
      this.#seal(path, l);
      this.#lists.set(path, []);
      if (this.#pending.size >= (this.#o.maxPending ?? 1)) return this.#drainTo((this.#o.maxPending ?? 1) - 1);
    }
    return undefined;
  }

  addDump(e: DumpEntry | null): void {
    if (e) this.#dumps.push(e);
  }

  get dumps(): readonly DumpEntry[] { return this.#dumps; }

  /** The state before a message's attempt: an attempt that fails is rolled back to it. */
  mark(): OutboxMark {
    return {
      lengths: new Map([...this.#lists].map(([p, l]) => [p, l.length])),
      k: new Map(this.#k),
      dumps: this.#dumps.length,
    };
  }

  /**
   * Forget what the failed attempt added. Envelopes it already published keep their ids: the
   * retry numbers its envelopes from the mark again, so the same envelopes get the same ids.
   */
  rollback(m: OutboxMark): void {
    for (const [p, l] of this.#lists) l.length = Math.min(l.length, m.lengths.get(p) ?? 0);
    this.#k.clear();
    for (const [p, k] of m.k) this.#k.set(p, k);
    this.#dumps.length = m.dumps;
  }

  #seal(path: string, msgs: readonly Message[]): void {
    const queues = this.#o.dest[path] ?? [];
    if (!queues.length || !msgs.length) return;
    let k = this.#k.get(path) ?? 0;
    for (const { chunk, bytes } of envelopes(msgs, this.#o.batchSize)) {
      // Load balancing is derived from the input, not from a counter, so a redelivery picks the same queue and id.
      const targets = this.#o.loadBalance ? [queues[(this.#o.seq + k) % queues.length]!] : queues;
      for (const q of targets) this.#track(this.#o.sender.publish(q, bytes, `${this.#o.idPrefix}:${path}:${q}:${k}`, this.#o.keepAlive));
      if (this.#o.tap) this.#taps.push({ path, queues: targets, messages: chunk.map((m) => m.serialize()) });
      k++;
    }
    this.#k.set(path, k);
  }

  #track(p: Promise<void>): void {
    const t = p.catch((err: unknown) => { this.#failure ??= { err }; }).finally(() => this.#pending.delete(t));
    this.#pending.add(t);
  }

  async #drainTo(n: number): Promise<void> {
    while (this.#pending.size > n) await Promise.race(this.#pending);
    if (this.#failure) throw this.#failure.err;
  }

  /** Publish what is left, store the dumps, and resolve once all is confirmed (throws Halted or the failure). */
  async finish(): Promise<void> {
    if (!this.#sealed) {
      this.#sealed = true;
      for (const [path, l] of this.#lists) this.#seal(path, l);
      this.#lists.clear();
      for (const e of this.#dumps) this.#track(this.#o.sender.dump(e, this.#o.keepAlive));
    }
    await this.#drainTo(0);
  }

  /** After the ack: tell the tap what went out. */
  report(): void {
    if (this.#o.tap) for (const t of this.#taps) this.#o.tap(t);
  }
}
