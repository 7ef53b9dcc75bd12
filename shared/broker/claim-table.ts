// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A claim set's keys in memory: 64 bits of each key, a 32-bit hash of its first owner and the
 * second it was claimed, in typed arrays (16 bytes a slot, against ~300 for a Map entry of two
 * strings; the collector never looks at them). Both claim set brokers keep their keys here.
 *
 * 64 bits of a SHA-256 tell keys apart well enough: with 10 million keys held, a new key is taken
 * for a held one (its event dropped as a repeat) once in 1.8 trillion lookups.
 *
 * Two generations of at most max/2 keys, each grown by doubling (a segment at a time) as it
 * fills: when the current one is full the older is dropped (its keys are forgotten before their TTL, as a full cache
 * forgets its oldest), and one whose newest key has expired is dropped at once.
 */
import { createHash } from "node:crypto";

/** 32-bit words of a key kept. */
export const KEY_WORDS = 2;
/** Bytes of one claim on the wire: the key's words and the owner's hash, little-endian. */
export const CLAIM_BYTES = 4 * (KEY_WORDS + 1);
/** Slots of a new generation's segment at most: it grows from here. */
const FIRST_SLOTS = 256;

export class ClaimTable {
  #cur: Generation;
  #prev: Generation | null = null;
  readonly #perGeneration: number;

  /** `ttlMs` 0: keys never expire (only the size limit makes room). */
  constructor(readonly ttlMs: number, readonly max: number) {
    this.#perGeneration = Math.max(1, Math.ceil(max / 2));
    this.#cur = new Generation(this.#perGeneration);
  }

  /** Keys held, expired ones not yet dropped included. */
  get size(): number {
    return this.#cur.count + (this.#prev?.count ?? 0);
  }

  /** The owner hash of a live key, or undefined. */
  find(k: Uint32Array, now: number): number | undefined {
    return this.#cur.find(k, now, this.ttlMs) ?? this.#prev?.find(k, now, this.ttlMs);
  }

  /**
   * The first claim of a live key wins: `owner` takes `k` unless it is held; the owner hash that
   * holds it after. A claim made at `atMs` that has expired by `now` changes nothing.
   */
  claim(k: Uint32Array, owner: number, atMs: number, now: number): number | undefined {
    const held = this.find(k, now);
    if (held !== undefined) return held;
    const at = Math.max(1, Math.floor(atMs / 1000));
    if (this.ttlMs > 0 && at * 1000 + this.ttlMs <= now) return undefined;
    if (this.#prev && this.ttlMs > 0 && this.#prev.newest * 1000 + this.ttlMs <= now) this.#prev = null;
    if (this.#cur.full) {
      this.#prev = this.#cur;
      this.#cur = new Generation(this.#perGeneration);
    }
    this.#cur.insert(k, owner, at);
    return owner;
  }
}

/**
 * A generation: SEGMENTS tables chosen by a key's second word, each grown on its own, so that
 * growing holds a segment twice for a moment, not the whole generation (a bot's peak memory).
 */
class Generation {
  readonly #segments: Segment[];
  count = 0;
  /** The latest claim time held (whole seconds). */
  newest = 0;

  constructor(readonly limit: number) {
    const first = Math.min(FIRST_SLOTS, Math.ceil(limit / 0.8 / SEGMENTS) + 1);
    this.#segments = Array.from({ length: SEGMENTS }, () => new Segment(first));
  }

  get full(): boolean {
    return this.count >= this.limit;
  }

  find(k: Uint32Array, now: number, ttlMs: number): number | undefined {
    return this.#segments[k[1]! % SEGMENTS]!.find(k, now, ttlMs);
  }

  insert(k: Uint32Array, owner: number, at: number): void {
    this.#segments[k[1]! % SEGMENTS]!.insert(k[0]!, k[1]!, owner, at);
    this.count++;
    if (at > this.newest) this.newest = at;
  }
}

/** Segments of a generation. */
const SEGMENTS = 32;

/** Open addressing, linear probing, no removal (a generation is dropped whole). */
class Segment {
  #keys: Uint32Array;
  #owners: Uint32Array;
  /** claim time in whole seconds; 0: empty slot */
  #times: Uint32Array;
  #slots: number;
  #count = 0;

  constructor(slots: number) {
    this.#slots = slots;
    this.#keys = new Uint32Array(slots * KEY_WORDS);
    this.#owners = new Uint32Array(slots);
    this.#times = new Uint32Array(slots);
  }

  find(k: Uint32Array, now: number, ttlMs: number): number | undefined {
    const keys = this.#keys;
    const slots = this.#slots;
    for (let i = k[0]! % slots; ; i = (i + 1) % slots) {
      const t = this.#times[i]!;
      if (t === 0) return undefined;
      const b = i * KEY_WORDS;
      // an expired entry is passed over: the key may have been claimed again after it
      if (keys[b] === k[0] && keys[b + 1] === k[1] && !(ttlMs > 0 && t * 1000 + ttlMs <= now)) {
        return this.#owners[i];
      }
    }
  }

  insert(k0: number, k1: number, owner: number, at: number): void {
    if ((this.#count + 1) / this.#slots > 0.8) this.#grow();
    this.#put(k0, k1, owner, at);
    this.#count++;
  }

  #put(k0: number, k1: number, owner: number, at: number): void {
    let i = k0 % this.#slots;
    while (this.#times[i] !== 0) i = (i + 1) % this.#slots;
    const b = i * KEY_WORDS;
    this.#keys[b] = k0;
    this.#keys[b + 1] = k1;
    this.#owners[i] = owner;
    this.#times[i] = at;
  }

  /** Twice the slots, every entry placed again. */
  #grow(): void {
    const [keys, owners, times, slots] = [this.#keys, this.#owners, this.#times, this.#slots];
    this.#slots = slots * 2;
    this.#keys = new Uint32Array(this.#slots * KEY_WORDS);
    this.#owners = new Uint32Array(this.#slots);
    this.#times = new Uint32Array(this.#slots);
    for (let i = 0; i < slots; i++) {
      if (times[i] === 0) continue;
      const b = i * KEY_WORDS;
      this.#put(keys[b]!, keys[b + 1]!, owners[i]!, times[i]!);
    }
  }
}

const words = new Uint32Array(KEY_WORDS);
/**
 * A key's words (in a shared array: used at once): the first 8 bytes of a hex hash as they
 * are, of any other key those of its SHA-256.
 */
export function keyWords(key: string): Uint32Array {
  return hexWords(key) ?? hexWords(createHash("sha256").update(key).digest("hex"))!;
}

function hexWords(hash: string): Uint32Array | null {
  if (hash.length < KEY_WORDS * 8) return null;
  for (let w = 0; w < KEY_WORDS; w++) {
    let v = 0;
    for (let j = w * 8; j < w * 8 + 8; j++) {
      const c = hash.charCodeAt(j);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) return null;
      v = v * 16 + d;
    }
    words[w] = v;
  }
  return words;
}

/** FNV-1a over the owner's UTF-16 units: two owners alike here make a repeat pass, never a loss. */
export function ownerHash(owner: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < owner.length; i++) {
    h ^= owner.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
