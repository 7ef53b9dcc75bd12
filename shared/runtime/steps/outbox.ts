// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Publish-then-ack, the publishing half: what one input produces, per path, in envelopes of
 * batch_size with message ids derived from the input (`<source queue>:<seq>:<content>:<path>:<queue>:<k>`),
 * so that a redelivered input republishes the same ids and the server drops the repeats.
 * Envelopes are packed a chunk at a time as messages come and published as they fill, with a
 * bounded number awaiting confirmation, so a large report never holds all its events in memory.
 * finish() publishes the rest, stores the dumps and resolves once the broker confirmed
 * everything; only then may the input be acknowledged.
 */
import type { DumpEntry } from "../../broker/index.js";
import { CHUNK_OVERHEAD, FRAME_RAW_MIN, encodeChunk, encodeEnvelope, joinChunks, type Message } from "../../message/index.js";
import { PipelineError } from "../../errors/index.js";
import type { Routed } from "../types.js";
import type { Sender } from "./sender.js";
import type { Stats } from "./stats.js";

/** Messages confirmed by the broker on one path (one envelope's worth). */
export interface OutputInfo { path: string; queues: string[]; messages: Record<string, unknown>[] }

/** Envelopes stay below this size so that they travel as one NATS message (default max_payload 1 MiB). */
export const ENVELOPE_MAX_BYTES = 768 * 1024;

/**
 * Messages packed together as they come: a chunk of an envelope (shared/message/envelope.ts).
 * Packed every hundred messages, an event is garbage a few hundred microseconds after it was
 * made, while V8's young generation still holds it.
 */
export const CHUNK_MESSAGES = 100;

/** An envelope ready to go, and (for the tap) its messages. */
interface Sealed { bytes: Uint8Array; messages: readonly Message[] | null }

/** A chunk's bytes take this much more than its length in the envelope, plus the envelope's magic once. */
const ENVELOPE_ROOM = ENVELOPE_MAX_BYTES - CHUNK_OVERHEAD;

/**
 * The envelopes of one path, built as messages come: packed CHUNK_MESSAGES at a time, sealed at
 * batchSize messages or before ENVELOPE_MAX_BYTES (a chunk over it is split in halves until it
 * fits or holds one message). A message with a raw large enough to travel framed goes alone.
 * Deterministic: the same messages added the same way make the same envelopes.
 */
export class EnvelopeBuilder {
  #open: Message[] = [];
  #chunks: Uint8Array[] = [];
  #chunkMessages: (readonly Message[])[] = [];
  #bytes = 0;
  #packed = 0;

  constructor(private readonly batchSize: number, private readonly keepMessages: boolean) {}

  /** Add a message; envelopes it completes are pushed to `out`. */
  add(msg: Message, out: Sealed[]): void {
    if (isFramed(msg)) {
      this.flush(out);
      out.push({ bytes: encodeEnvelope([msg]), messages: this.keepMessages ? [msg] : null });
      return;
    }
    this.#open.push(msg);
    if (this.#packed + this.#open.length >= this.batchSize) this.flush(out);
    else if (this.#open.length >= CHUNK_MESSAGES) this.#pack(out);
  }

  /** Seal everything added (the rest of the envelope being built). */
  flush(out: Sealed[]): void {
    this.#pack(out);
    this.#seal(out);
  }

  /** Forget what was added and not sealed. */
  clear(): void {
    this.#open = [];
    this.#reset();
  }

  #pack(out: Sealed[]): void {
    if (this.#open.length === 0) return;
    const msgs = this.#open;
    this.#open = [];
    for (const piece of fit(msgs)) {
      if (this.#chunks.length > 0 && this.#bytes + CHUNK_OVERHEAD + piece.bytes.length > ENVELOPE_ROOM) this.#seal(out);
      this.#chunks.push(piece.bytes);
      if (this.keepMessages) this.#chunkMessages.push(piece.msgs);
      this.#bytes += CHUNK_OVERHEAD + piece.bytes.length;
      this.#packed += piece.msgs.length;
    }
  }

  #seal(out: Sealed[]): void {
    if (this.#chunks.length === 0) return;
    out.push({ bytes: joinChunks(this.#chunks), messages: this.keepMessages ? this.#chunkMessages.flat() : null });
    this.#reset();
  }

  #reset(): void {
    this.#chunks = [];
    this.#chunkMessages = [];
    this.#bytes = 0;
    this.#packed = 0;
  }
}

/** A report whose raw travels framed (as plain bytes after the rest): always in an envelope of its own. */
function isFramed(msg: Message): boolean {
  const raw = msg._wire().raw;
  return typeof raw === "string" && raw.length >= FRAME_RAW_MIN;
}

/** Messages encoded as chunks of at most ENVELOPE_MAX_BYTES each (halved while over), or of one message. */
function* fit(msgs: readonly Message[]): Generator<{ msgs: readonly Message[]; bytes: Uint8Array }> {
  const bytes = encodeChunk(msgs);
  if (bytes.byteLength <= ENVELOPE_ROOM - CHUNK_OVERHEAD || msgs.length === 1) {
    yield { msgs, bytes };
    return;
  }
  const half = Math.ceil(msgs.length / 2);
  yield* fit(msgs.slice(0, half));
  yield* fit(msgs.slice(half));
}

/**
 * Messages in envelopes as an Outbox makes them: batchSize messages each, packed in chunks, split
 * before ENVELOPE_MAX_BYTES. Deterministic: a redelivered input gives the same envelopes, so
 * their message ids repeat and the server drops the copies.
 */
export function envelopes(msgs: readonly Message[], batchSize: number): { chunk: readonly Message[]; bytes: Uint8Array }[] {
  const b = new EnvelopeBuilder(batchSize, true);
  const out: Sealed[] = [];
  for (const m of msgs) b.add(m, out);
  b.flush(out);
  return out.map((s) => ({ chunk: s.messages!, bytes: s.bytes }));
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
export interface OutboxMark { k: Map<string, number>; dumps: number }

export class Outbox {
  readonly #o: OutboxOptions;
  readonly #builders = new Map<string, EnvelopeBuilder>();
  readonly #k = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  readonly #dumps: DumpEntry[] = [];
  readonly #taps: OutputInfo[] = [];
  /** Envelopes sealed by the last call, published at once (kept to spare an array per add). */
  readonly #sealed: Sealed[] = [];
  #failure: { err: unknown } | null = null;
  #finished = false;

  constructor(opts: OutboxOptions) {
    this.#o = opts;
  }

  /** Send `msg` on `path` (checked by checkRoutes). Returns a promise to await when too much is unconfirmed. */
  add(path: string, msg: Message): Promise<void> | undefined {
    let b = this.#builders.get(path);
    if (!b) this.#builders.set(path, (b = new EnvelopeBuilder(this.#o.batchSize, this.#o.tap !== null)));
    this.#o.stats.sent(path);
    b.add(msg, this.#sealed);
    if (this.#sealed.length === 0) return undefined;
    this.#publishSealed(path);
    if (this.#pending.size >= (this.#o.maxPending ?? 1)) return this.#drainTo((this.#o.maxPending ?? 1) - 1);
    return undefined;
  }

  addDump(e: DumpEntry | null): void {
    if (e) this.#dumps.push(e);
  }

  get dumps(): readonly DumpEntry[] { return this.#dumps; }

  /**
   * The state before a message's attempt: an attempt that fails is rolled back to it. What was
   * added before goes out now, so that the attempt starts new envelopes: a retry makes the same
   * envelopes under the same ids, and what the failed attempt published is dropped as a repeat.
   */
  mark(): OutboxMark {
    for (const [path, b] of this.#builders) {
      b.flush(this.#sealed);
      this.#publishSealed(path);
    }
    return { k: new Map(this.#k), dumps: this.#dumps.length };
  }

  /** Forget what the failed attempt added; the retry numbers its envelopes from the mark again. */
  rollback(m: OutboxMark): void {
    for (const b of this.#builders.values()) b.clear();
    this.#k.clear();
    for (const [p, k] of m.k) this.#k.set(p, k);
    this.#dumps.length = m.dumps;
  }

  #publishSealed(path: string): void {
    const queues = this.#o.dest[path] ?? [];
    let k = this.#k.get(path) ?? 0;
    for (const s of this.#sealed) {
      if (!queues.length) continue;
      // Load balancing is derived from the input, not from a counter, so a redelivery picks the same queue and id.
      const targets = this.#o.loadBalance ? [queues[(this.#o.seq + k) % queues.length]!] : queues;
      for (const q of targets) this.#track(this.#o.sender.publish(q, s.bytes, `${this.#o.idPrefix}:${path}:${q}:${k}`, this.#o.keepAlive));
      if (this.#o.tap && s.messages) this.#taps.push({ path, queues: targets, messages: s.messages.map((m) => m.serialize()) });
      k++;
    }
    this.#sealed.length = 0;
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
    if (!this.#finished) {
      this.#finished = true;
      for (const [path, b] of this.#builders) {
        b.flush(this.#sealed);
        this.#publishSealed(path);
      }
      for (const e of this.#dumps) this.#track(this.#o.sender.dump(e, this.#o.keepAlive));
    }
    await this.#drainTo(0);
  }

  /** After the ack: tell the tap what went out. */
  report(): void {
    if (this.#o.tap) for (const t of this.#taps) this.#o.tap(t);
  }
}
