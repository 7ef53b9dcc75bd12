// SPDX-License-Identifier: AGPL-3.0-only
import { z } from "zod";
import { defineBot, p, type Event } from "../../../shared/sdk/index.js";

/** The cache bucket (JetStream KV on NATS, memory in library mode); see ARCHITECTURE.md. */
export const DEDUP_BUCKET = "dedup";
/** What IntelMQ documents as filter_keys when none is given. */
const DEFAULT_FILTER_KEYS = ["raw", "time.observation"];

export const params = z.object({
  filter_type: z.enum(["blacklist", "whitelist"]).default("blacklist")
    .describe("How filter_keys is read: blacklist hashes all keys but these, whitelist only these"),
  filter_keys: p.list().nullable().default(null)
    .describe("Keys (a list or a comma-separated string) for filter_type; time.observation is never hashed. Unset: raw,time.observation"),
  bypass: p.bool().default(false).describe("Forward every message without looking at the cache"),
  local_cache_entries: p.int().pipe(z.number().int().min(0)).default(65536)
    .describe("Ours: hashes this instance wrote, answered without a round trip to the shared cache (25 bytes each: the default takes 1.6 MiB; 0 turns it off)"),
  redis_cache_ttl: p.int().pipe(z.number().int().min(0)).default(86400)
    .describe("Seconds a hash is remembered: the TTL of the dedup cache bucket"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the cache is the NATS KV bucket \"dedup\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(6).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "deduplicator",
  intelmq: "intelmq.bots.experts.deduplicator.expert",
  description: "Drops events whose hash (over all keys, or the chosen ones) was seen within the cache TTL",
  params,
  create: async (prm, ctx) => {
    const hashOpts = {
      filterKeys: new Set(prm.filter_keys ?? DEFAULT_FILTER_KEYS),
      filterType: prm.filter_type,
    };
    const cache = prm.bypass ? null : await ctx.cache(DEDUP_BUCKET, prm.redis_cache_ttl);
    const mine = new OwnWrites(prm.redis_cache_ttl * 1000, prm.local_cache_entries);
    return {
      async process(event, meta) {
        if (cache === null) return event;
        const hash = event.hash(hashOpts);
        // A hash this instance wrote itself is answered without a round trip to the shared cache.
        const known = mine.get(hash, meta.origin);
        if (known !== undefined) {
          if (known === "mine") return event;
          ctx.log.debug("Dropped message.");
          return null;
        }
        // The value is the event's origin, stable across redeliveries: after a crash between
        // storing the hash and acknowledging the input, the redelivered input finds its own
        // origin and is forwarded again instead of being lost as a "duplicate" of itself.
        const held = await cache.createOrGet(hash, meta.origin);
        if (held === null) {
          mine.set(hash, meta.origin);
          return event;
        }
        if (held === meta.origin) return event;
        ctx.log.debug("Dropped message.");
        return null;
      },
      /**
       * The same decisions for a batch, with one round trip to the cache for all its new hashes.
       * A hash met twice in the batch is asked once: the later events get the answer the first
       * one's create left, as if they had come after it.
       */
      async processBatch(events, metas) {
        if (cache === null) return events;
        const out: (Event | null)[] = new Array<Event | null>(events.length).fill(null);
        const keys: string[] = [];
        const origins: string[] = [];
        /** per event: the index in keys of its hash, -1 when answered without the cache */
        const asked: number[] = new Array<number>(events.length).fill(-1);
        const inBatch = new Map<string, number>();
        for (let i = 0; i < events.length; i++) {
          const hash = events[i]!.hash(hashOpts);
          const origin = metas[i]!.origin;
          const known = mine.get(hash, origin);
          if (known !== undefined) {
            if (known === "mine") out[i] = events[i]!;
            else ctx.log.debug("Dropped message.");
            continue;
          }
          const k = inBatch.get(hash);
          if (k !== undefined) {
            asked[i] = k;
            continue;
          }
          inBatch.set(hash, keys.length);
          asked[i] = keys.length;
          keys.push(hash);
          origins.push(origin);
        }
        const held = keys.length > 0 ? await cache.createOrGetMany(keys, origins) : [];
        for (let k = 0; k < keys.length; k++) if (held[k] === null) mine.set(keys[k]!, origins[k]!);
        for (let i = 0; i < events.length; i++) {
          const k = asked[i]!;
          if (k < 0) continue;
          // the value the key holds now: its earlier holder's, or the first asker's
          if ((held[k] ?? origins[k]) === metas[i]!.origin) out[i] = events[i]!;
          else ctx.log.debug("Dropped message.");
        }
        return out;
      },
    };
  },
});

/**
 * The hashes this instance created in the shared cache, with (a 32-bit hash of) their origins,
 * for at most the cache's TTL counted from our own write (so never longer than the shared entry
 * lives) and at most about `max` entries. Only our own writes are kept: an entry learned from
 * another instance has an unknown age.
 *
 * Typed arrays, not a Map: 12 bytes (96 bits) of the hash, the origin's hash and the write
 * second take 20 bytes a slot, against ~300 for a Map entry of two strings, and the collector
 * never looks at them. Two generations of max/2 entries: when the current one is full the older
 * is dropped. Write times are whole seconds, rounded down: an entry never outlives the shared one.
 */
export class OwnWrites {
  #cur: Table | null = null;
  #prev: Table | null = null;
  readonly #perTable: number;
  constructor(readonly ttlMs: number, readonly max: number) {
    this.#perTable = Math.max(1, Math.ceil(max / 2));
  }

  /** "mine": written by us for this origin; "other": for another origin; undefined: not known here. */
  get(hash: string, origin: string): "mine" | "other" | undefined {
    if (this.max === 0) return undefined;
    const k = hashWords(hash);
    if (k === null) return undefined;
    const o = this.#find(k, Date.now());
    if (o === undefined) return undefined;
    return o === originHash(origin) ? "mine" : "other";
  }

  set(hash: string, origin: string): void {
    if (this.max === 0) return;
    const k = hashWords(hash);
    if (k === null) return;
    const now = Date.now();
    // an entry keeps its first (earlier) write
    if (this.#find(k, now) !== undefined) return;
    if (!this.#cur || this.#cur.full) {
      // the older generation's arrays are emptied and reused: a third table never exists at once
      const spare = this.#prev;
      this.#prev = this.#cur;
      this.#cur = spare ? spare.clear() : new Table(this.#perTable);
    }
    this.#cur.insert(k, originHash(origin), now);
  }

  /** The origin hash of a live entry in either generation. */
  #find(k: Uint32Array, now: number): number | undefined {
    return this.#cur?.find(k, now, this.ttlMs) ?? this.#prev?.find(k, now, this.ttlMs);
  }
}

/** Open addressing, linear probing, no removal (a generation is dropped whole). */
class Table {
  readonly #keys: Uint32Array;
  readonly #origins: Uint32Array;
  /** write time in whole seconds; 0: empty slot */
  readonly #times: Uint32Array;
  readonly #slots: number;
  readonly #limit: number;
  #count = 0;

  constructor(entries: number) {
    this.#limit = entries;
    this.#slots = Math.ceil(entries / 0.8) + 1;
    this.#keys = new Uint32Array(this.#slots * KEY_WORDS);
    this.#origins = new Uint32Array(this.#slots);
    this.#times = new Uint32Array(this.#slots);
  }

  get full(): boolean {
    return this.#count >= this.#limit;
  }

  /** Empty again (the times mark the slots). */
  clear(): this {
    this.#times.fill(0);
    this.#count = 0;
    return this;
  }

  /** The origin hash of a live entry for `k`, or undefined. */
  find(k: Uint32Array, now: number, ttlMs: number): number | undefined {
    const keys = this.#keys;
    for (let i = k[0]! % this.#slots; ; i = (i + 1) % this.#slots) {
      const t = this.#times[i]!;
      if (t === 0) return undefined;
      const b = i * KEY_WORDS;
      // an expired entry is passed over: the key may have been written again after it
      if (keys[b] === k[0] && keys[b + 1] === k[1] && keys[b + 2] === k[2] && !(ttlMs > 0 && t * 1000 + ttlMs <= now)) {
        return this.#origins[i];
      }
    }
  }

  insert(k: Uint32Array, origin: number, now: number): void {
    let i = k[0]! % this.#slots;
    while (this.#times[i] !== 0) i = (i + 1) % this.#slots;
    this.#keys.set(k, i * KEY_WORDS);
    this.#origins[i] = origin;
    this.#times[i] = Math.max(1, Math.floor(now / 1000));
    this.#count++;
  }
}

/** 32-bit words of the hash a slot keeps. */
const KEY_WORDS = 3;
const words = new Uint32Array(KEY_WORDS);
/** The first 12 bytes of a hex SHA-256 as three words (in a shared array: used at once), null if not hex. */
function hashWords(hash: string): Uint32Array | null {
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

/** FNV-1a over the origin's UTF-16 units: two origins alike here make a repeat pass, never a loss. */
function originHash(origin: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < origin.length; i++) {
    h ^= origin.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
