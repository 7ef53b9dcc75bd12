// SPDX-License-Identifier: AGPL-3.0-only
/** Dumps, logs, KV buckets and request/reply in memory. */
import { BrokerUnavailableError } from "../../errors/index.js";
import { DEFAULTS } from "../names.js";
import type { ClaimLimits, ClaimSet, ControlTransport, DumpEntry, DumpStore, KvBuckets, KvLimits, KvStore, LogStore, RequestHandler, Service, StoredDump } from "../types.js";
import { ClaimTable, keyWords, ownerHash } from "../claim-table.js";
import type { MemState } from "./state.js";

const byteLength = (s: string) => Buffer.byteLength(s);

export class MemDumps implements DumpStore {
  #dumps: (StoredDump & { bytes: number })[] = [];
  #seq = 0;
  #bytes = 0;
  /** `maxBytes`: as the dumps stream's (discard new): a full store refuses, the bot waits. */
  constructor(private readonly m: MemState, private readonly maxBytes: number) {}

  async store(entry: DumpEntry): Promise<void> {
    this.m.live();
    const bytes = byteLength(JSON.stringify(entry));
    if (this.#bytes + bytes > this.maxBytes) {
      throw new BrokerUnavailableError(`dump of ${entry.bot_id}: the dumps are full (dumps_max_bytes ${this.maxBytes}): delete entries with intelmqdump or raise the limit`);
    }
    this.#bytes += bytes;
    this.#dumps.push({ ...structuredClone(entry), seq: ++this.#seq, bytes });
  }

  async read(botId?: string): Promise<StoredDump[]> {
    return this.#dumps.filter((d) => botId === undefined || d.bot_id === botId).map(({ bytes: _, ...d }) => structuredClone(d));
  }

  async counts(botIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map(botIds.map((id) => [id, 0]));
    for (const d of this.#dumps) if (out.has(d.bot_id)) out.set(d.bot_id, out.get(d.bot_id)! + 1);
    return out;
  }

  async delete(seq: number): Promise<boolean> {
    const i = this.#dumps.findIndex((d) => d.seq === seq);
    if (i < 0) return false;
    this.#bytes -= this.#dumps[i]!.bytes;
    this.#dumps.splice(i, 1);
    return true;
  }
}

interface LogLine { seq: number; at: number; line: string }

export class MemLogs implements LogStore {
  /** Log lines per bot with the time they arrived, oldest first (the logs stream's limits). */
  #logs = new Map<string, LogLine[]>();
  #bytes = 0;
  #seq = 0;
  constructor(private readonly m: MemState, private readonly maxBytes: number) {}

  append(botId: string, line: string): void {
    if (this.m.state !== "connected") return;
    let list = this.#logs.get(botId);
    if (!list) this.#logs.set(botId, (list = []));
    const text = line.endsWith("\n") ? line.slice(0, -1) : line;
    list.push({ seq: ++this.#seq, at: Date.now(), line: text });
    this.#bytes += byteLength(text);
    // Discard old: past the per-bot limit the bot's oldest line goes, past the bytes the oldest of all.
    if (list.length > DEFAULTS.logsMaxPerBot) this.#drop(list, list.length - DEFAULTS.logsMaxPerBot);
    while (this.#bytes > this.maxBytes) {
      let oldest: LogLine[] | null = null;
      for (const l of this.#logs.values()) if (l.length && (!oldest || l[0]!.seq < oldest[0]!.seq)) oldest = l;
      if (!oldest) break;
      this.#drop(oldest, 1);
    }
  }

  #drop(list: LogLine[], n: number): void {
    for (const e of list.splice(0, n)) this.#bytes -= byteLength(e.line);
  }

  async read(botId: string, max: number): Promise<string[]> {
    const list = this.#logs.get(botId);
    if (!list || !(max > 0)) return [];
    const oldest = Date.now() - DEFAULTS.logsMaxAgeMs;
    const alive = list.findIndex((e) => e.at >= oldest);
    this.#drop(list, alive < 0 ? list.length : alive);
    return list.slice(Math.max(0, list.length - max)).map((e) => e.line);
  }
}

export class MemKvBuckets implements KvBuckets {
  #buckets = new Map<string, MemoryKv>();
  constructor(private readonly m: MemState, private readonly defaultMaxBytes: number) {}

  async open(bucket: string, ttlSeconds: number, limits?: KvLimits): Promise<KvStore> {
    this.m.live();
    const maxBytes = limits?.maxBytes ?? this.defaultMaxBytes;
    let kv = this.#buckets.get(bucket);
    if (!kv) {
      kv = new MemoryKv(ttlSeconds * 1000, maxBytes);
      this.#buckets.set(bucket, kv);
    } else {
      // An existing bucket keeps its TTL and gets the size limit, as on JetStream.
      kv.limit(maxBytes);
    }
    return kv;
  }

  async openExisting(bucket: string): Promise<KvStore | null> {
    this.m.live();
    return this.#buckets.get(bucket) ?? null;
  }

  async delete(bucket: string): Promise<boolean> {
    this.m.live();
    return this.#buckets.delete(bucket);
  }

  #claims = new Map<string, ClaimTable>();

  /** One table per name, shared by whoever opens it here: the first opener's TTL and size hold. */
  async claims(name: string, ttlSeconds: number, limits?: ClaimLimits): Promise<ClaimSet> {
    this.m.live();
    let table = this.#claims.get(name);
    if (!table) {
      table = new ClaimTable(Math.max(0, ttlSeconds) * 1000, limits?.maxEntries ?? DEFAULTS.claimMaxEntries);
      this.#claims.set(name, table);
    }
    const t = table;
    const m = this.m;
    return {
      async claim(keys: readonly string[], owners: readonly string[]): Promise<boolean[]> {
        m.live();
        const now = Date.now();
        return keys.map((k, i) => {
          const owner = ownerHash(owners[i]!);
          return t.claim(keyWords(k), owner, now, now) === owner;
        });
      },
      get size() { return t.size; },
      async close() { /* nothing follows other connections here */ },
    };
  }

  async deleteClaims(name: string): Promise<boolean> {
    this.m.live();
    return this.#claims.delete(name);
  }
}

export class MemControl implements ControlTransport {
  #services = new Set<{ pattern: string; handler: RequestHandler }>();
  constructor(private readonly m: MemState) {}

  async serve(subject: string, handler: RequestHandler): Promise<Service> {
    this.m.live();
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
    this.m.live();
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

/** A bucket in memory: TTL, and a size (keys and values in bytes) past which the oldest keys go. */
class MemoryKv implements KvStore {
  #map = new Map<string, { value: string; expires: number }>();
  #bytes = 0;
  constructor(private readonly ttlMs: number, private maxBytes: number) {}

  limit(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.#evict();
  }

  #set(key: string, value: string): void {
    this.#remove(key);
    // Map order is insertion order: a key written again becomes the newest.
    this.#map.set(key, { value, expires: Date.now() + this.ttlMs });
    this.#bytes += byteLength(key) + byteLength(value);
    this.#evict();
  }

  #remove(key: string): void {
    const e = this.#map.get(key);
    if (!e) return;
    this.#bytes -= byteLength(key) + byteLength(e.value);
    this.#map.delete(key);
  }

  /** Discard old: the oldest keys go until the bucket fits. */
  #evict(): void {
    for (const k of this.#map.keys()) {
      if (this.#bytes <= this.maxBytes) return;
      this.#remove(k);
    }
  }

  #alive(key: string): { value: string; expires: number } | undefined {
    const e = this.#map.get(key);
    if (e && this.ttlMs > 0 && Date.now() >= e.expires) {
      this.#remove(key);
      return undefined;
    }
    return e;
  }

  async create(key: string, value: string): Promise<boolean> {
    if (this.#alive(key)) return false;
    this.#set(key, value);
    return true;
  }

  async createOrGet(key: string, value: string): Promise<string | null> {
    return this.#createOrGet(key, value);
  }

  #createOrGet(key: string, value: string): string | null {
    const held = this.#alive(key);
    if (held) return held.value;
    this.#set(key, value);
    return null;
  }

  async get(key: string): Promise<string | null> {
    return this.#alive(key)?.value ?? null;
  }

  async put(key: string, value: string): Promise<void> {
    this.#set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#remove(key);
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
