// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Claim sets on JetStream: a limits stream (max_age = the TTL, discard old) of claims, one
 * message per call with every key that call did not know, 12 bytes a key. Each connection
 * follows the stream with an ordered consumer and applies its messages in stream order to a
 * table in memory, where the first claim of a key wins; all connections apply the same order,
 * so all agree on every key's owner. A call publishes its new keys, waits until the table holds
 * the stream up to its own message, and reads the answers there.
 *
 * Against a KV create per key (what IntelMQ's Redis SET NX is), the server stores one message
 * per batch instead of one per key, and keys seen before are answered without a round trip.
 */
import { DeliverPolicy, DiscardPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { BrokerUnavailableError, errorMessage } from "../../errors/index.js";
import { ClaimTable, CLAIM_BYTES, KEY_WORDS, keyWords, ownerHash } from "../claim-table.js";
import { claimsStream, claimsSubject, DEFAULTS } from "../names.js";
import type { ClaimLimits, ClaimSet } from "../types.js";
import type { JsConnection } from "./connection.js";

/** How long opening waits for the claims stored so far to be loaded (a day of a busy feed is millions). */
const LOAD_TIMEOUT_MS = 120_000;

interface Waiter { seq: number; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

export async function openClaims(c: JsConnection, name: string, ttlSeconds: number, limits?: ClaimLimits): Promise<ClaimSet> {
  const stream = claimsStream(name);
  const ttlMs = Math.max(0, ttlSeconds) * 1000;
  try {
    await c.limitsStream({
      name: stream, subjects: [claimsSubject(name)], description: `IntelMQ claim set ${name} (the deduplicator's cache)`,
      max_age: nanos(ttlMs), max_bytes: limits?.maxBytes ?? c.limits.cacheMaxBytes, discard: DiscardPolicy.Old,
    }, true);
    const last = (await c.jsm.streams.info(stream)).state.last_seq;
    const set = new JsClaimSet(c, name, new ClaimTable(ttlMs, limits?.maxEntries ?? DEFAULTS.claimMaxEntries));
    await set.start();
    try {
      await set.until(last, LOAD_TIMEOUT_MS);
    } catch (err) {
      await set.close();
      throw err;
    }
    return set;
  } catch (err) {
    throw c.wrap(`claim set ${name}`, err);
  }
}

class JsClaimSet implements ClaimSet {
  /** The stream's sequence applied to the table so far. */
  #applied = 0;
  #waiters: Waiter[] = [];
  /** Our own messages by sequence, PubAcked and not applied yet (see #applyOwn()). */
  readonly #own = new Map<number, { data: Uint8Array; atMs: number }>();
  #messages: ConsumerMessages | null = null;
  #closed = false;
  readonly #subject: string;

  constructor(private readonly c: JsConnection, private readonly name: string, private readonly table: ClaimTable) {
    this.#subject = claimsSubject(name);
  }

  get size(): number {
    return this.table.size;
  }

  /** Follow the stream from the message after the last applied, for as long as the set is open. */
  async start(): Promise<void> {
    const oc = await this.c.js.consumers.get(claimsStream(this.name), this.#applied > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#applied + 1 } : {});
    const messages = await oc.consume({ max_messages: 256 });
    this.#messages = messages;
    void (async () => {
      try {
        for await (const m of messages) {
          this.#apply(m.seq, m.data, m.info.timestampNanos / 1e6);
          if (this.#own.size > 0) this.#applyOwn();
        }
      } catch (err) {
        this.c.log.warn({ err: errorMessage(err), claims: this.name }, "following the claim set stopped; starting again");
      }
      if (this.#closed) return;
      // The ordered consumer ends only when its stream went away or the connection closed: try again.
      for (let attempt = 1; !this.#closed; attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
        if (this.#closed || this.c.state === "closed") break;
        try {
          await this.start();
          return;
        } catch (err) {
          this.c.log.warn({ err: errorMessage(err), claims: this.name, attempt }, "cannot follow the claim set yet");
        }
      }
      this.#failAll(new BrokerUnavailableError(`claim set ${this.name}: closed`));
    })();
  }

  /**
   * Our own messages that come next in the stream, applied without waiting for them to be read
   * back: when every message between the last applied and ours is one of ours, nothing else can
   * come before them. (Their time is ours, not the server's: the same within the TTL's second.)
   */
  #applyOwn(): void {
    for (let next = this.#own.get(this.#applied + 1); next !== undefined; next = this.#own.get(this.#applied + 1)) {
      this.#own.delete(this.#applied + 1);
      this.#apply(this.#applied + 1, next.data, next.atMs);
    }
  }

  #apply(seq: number, data: Uint8Array, atMs: number): void {
    if (seq <= this.#applied) return;
    // ours up to here are read (or were dropped by the stream's size limit before they were)
    if (this.#own.size > 0) for (const s of this.#own.keys()) if (s <= seq) this.#own.delete(s);
    const now = Date.now();
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const k = new Uint32Array(KEY_WORDS);
    for (let at = 0; at + CLAIM_BYTES <= data.length; at += CLAIM_BYTES) {
      for (let w = 0; w < KEY_WORDS; w++) k[w] = view.getUint32(at + 4 * w, true);
      this.table.claim(k, view.getUint32(at + 4 * KEY_WORDS, true), atMs, now);
    }
    this.#applied = seq;
    if (this.#waiters.length > 0) this.#wake();
  }

  #wake(): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq <= this.#applied) {
        clearTimeout(w.timer);
        w.resolve();
      } else keep.push(w);
    }
    this.#waiters = keep;
  }

  #failAll(err: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** Resolves when the table holds the stream up to `seq`. */
  until(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.#applied) return Promise.resolve();
    if (this.#closed) return Promise.reject(new BrokerUnavailableError(`claim set ${this.name}: closed`));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        seq, resolve, reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(new BrokerUnavailableError(`claim set ${this.name}: message ${seq} not read back within ${timeoutMs} ms (read up to ${this.#applied})`));
        }, timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  async claim(keys: readonly string[], owners: readonly string[]): Promise<boolean[]> {
    const n = keys.length;
    const out = new Array<boolean>(n).fill(false);
    const owned = new Uint32Array(n);
    let now = Date.now();
    // The keys not known here, as they go on the wire; `asked[j]`: the call's index of the j-th.
    const wire = new Uint8Array(n * CLAIM_BYTES);
    const view = new DataView(wire.buffer);
    const asked: number[] = [];
    // the events of one input share its origin: hashed once
    let lastOwner: string | null = null;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const k = keyWords(keys[i]!);
      if (owners[i] !== lastOwner) {
        lastOwner = owners[i]!;
        o = ownerHash(lastOwner);
      }
      owned[i] = o;
      const held = this.table.find(k, now);
      if (held !== undefined) {
        out[i] = held === o;
        continue;
      }
      const at = asked.length * CLAIM_BYTES;
      for (let w = 0; w < KEY_WORDS; w++) view.setUint32(at + 4 * w, k[w]!, true);
      view.setUint32(at + 4 * KEY_WORDS, o, true);
      asked.push(i);
    }
    if (asked.length === 0) return out;
    let seq: number;
    const data = wire.subarray(0, asked.length * CLAIM_BYTES);
    try {
      seq = (await this.c.pub.publish(this.#subject, data)).seq;
    } catch (err) {
      throw this.c.wrap(`claim set ${this.name}: claim ${asked.length} keys`, err);
    }
    if (seq > this.#applied) {
      this.#own.set(seq, { data, atMs: Date.now() });
      this.#applyOwn();
    }
    // Every claim before ours in the stream, and ours, are in the table after this.
    await this.until(seq, DEFAULTS.publishTimeoutMs);
    now = Date.now();
    const k = new Uint32Array(KEY_WORDS);
    for (let j = 0; j < asked.length; j++) {
      for (let w = 0; w < KEY_WORDS; w++) k[w] = view.getUint32(j * CLAIM_BYTES + 4 * w, true);
      const i = asked[j]!;
      // Not in the table: our message was gone before it was read (the stream's size limit); ours.
      out[i] = (this.table.find(k, now) ?? this.table.claim(k, owned[i]!, now, now)) === owned[i];
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new BrokerUnavailableError(`claim set ${this.name}: closed`));
    try {
      await this.#messages?.close();
    } catch {
      // the connection may be gone already
    }
  }
}
