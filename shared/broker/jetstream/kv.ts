// SPDX-License-Identifier: AGPL-3.0-only
/**
 * KV buckets on JetStream: caches with a bucket-wide TTL (deduplicator, heartbeats, delivery
 * attempts) and a size limit. A full bucket forgets its oldest keys (discard old), as a cache
 * does: the deduplicator then lets a repeat of a very old event through, nothing waits.
 */
import { headers as natsHeaders } from "@nats-io/transport-node";
import { DiscardPolicy, JetStreamApiError, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { encodedOnce, type Publisher } from "../publisher.js";
import type { ClaimLimits, ClaimSet, KvBuckets, KvLimits, KvStore } from "../types.js";
import { claimsStream } from "../names.js";
import { openClaims } from "./claims.js";
import { apiCode, type JsConnection } from "./connection.js";
import { BrokerUnavailableError, errorMessage } from "../../errors/index.js";

export class JsKvBuckets implements KvBuckets {
  constructor(private readonly c: JsConnection) {}

  #store(kv: KV, bucket: string): JsKv {
    return new JsKv(kv, bucket, this.c.pub, this.c.jsm, (what, err) => this.c.wrap(what, err));
  }

  async open(bucket: string, ttlSeconds: number, limits?: KvLimits): Promise<KvStore> {
    const maxBytes = limits?.maxBytes ?? this.c.limits.cacheMaxBytes;
    try {
      const kvm = new Kvm(this.c.js);
      let si = await this.c.streamInfo(`KV_${bucket}`);
      let kv: KV | null = null;
      if (!si) {
        try {
          kv = await kvm.create(bucket, { ttl: Math.max(0, ttlSeconds) * 1000, history: 1, storage: StorageType.File, max_bytes: maxBytes, replicas: this.c.limits.replicas });
        } catch (err) {
          // Created by someone else meanwhile (perhaps with another TTL): use it as it is.
          this.c.log.debug({ bucket, err: errorMessage(err) }, "opening the KV bucket another connection created");
        }
        si = await this.c.streamInfo(`KV_${bucket}`);
      }
      // An existing bucket keeps its TTL; it gets our size limit. The client creates buckets with
      // discard new (a full one refuses puts); ours forget their oldest keys instead.
      if (si && (si.config.max_bytes !== maxBytes || si.config.discard !== DiscardPolicy.Old)) {
        si = await this.c.updateStream(si, { max_bytes: maxBytes, discard: DiscardPolicy.Old }, true);
      }
      kv ??= await kvm.open(bucket, { allow_direct: si?.config.allow_direct ?? false });
      return this.#store(kv, bucket);
    } catch (err) {
      throw this.c.wrap(`cache ${bucket}`, err);
    }
  }

  async openExisting(bucket: string): Promise<KvStore | null> {
    try {
      const si = await this.c.streamInfo(`KV_${bucket}`);
      if (!si) return null;
      const kv = await new Kvm(this.c.js).open(bucket, { allow_direct: si.config.allow_direct ?? false });
      return this.#store(kv, bucket);
    } catch (err) {
      throw this.c.wrap(`cache ${bucket}`, err);
    }
  }

  delete(bucket: string): Promise<boolean> {
    return this.c.deleteStream(`KV_${bucket}`, `delete cache ${bucket}`);
  }

  claims(name: string, ttlSeconds: number, limits?: ClaimLimits): Promise<ClaimSet> {
    return openClaims(this.c, name, ttlSeconds, limits);
  }

  deleteClaims(name: string): Promise<boolean> {
    return this.c.deleteStream(claimsStream(name), `delete claim set ${name}`);
  }
}

/** Headers of a KV create, shared by every create (publishing only reads them). */
const CREATE_HEADERS = (() => {
  const h = natsHeaders();
  h.set("Nats-Expected-Last-Subject-Sequence", "0");
  return encodedOnce(h);
})();

/** JetStream's "wrong last sequence": a create of a key that has a revision. */
const WRONG_LAST_SEQUENCE = 10071;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** Keys that need no encoding in a KV subject. */
const PLAIN_KEY = /^[-\/_=a-zA-Z0-9]+(\.[-\/_=a-zA-Z0-9]+)*$/;

class JsKv implements KvStore {
  constructor(
    private readonly kv: KV,
    private readonly bucket: string,
    private readonly pub: Publisher,
    private readonly jsm: JetStreamManager,
    private readonly wrap: (what: string, err: unknown) => Error,
  ) {}

  async create(key: string, value: string): Promise<boolean> {
    return (await this.createOrGet(key, value)) === null;
  }

  async createOrGet(key: string, value: string): Promise<string | null> {
    try {
      // A key deleted between a failed create and the read: round again (rare, and it ends).
      for (;;) {
        // The common case in one publish: "create" = no earlier revision of the key.
        if (PLAIN_KEY.test(key)) {
          const r = await this.pub.tryPublishOk(`$KV.${this.bucket}.${key}`, value, CREATE_HEADERS);
          if (r === null) return null;
          if (r.error.err_code !== WRONG_LAST_SEQUENCE) throw new JetStreamApiError(r.error);
        }
        const held = await this.get(key);
        if (held !== null) return held;
        // No live value (a delete marker, or a key that needs encoding): the client's create.
        try {
          await this.kv.create(key, value);
          return null;
        } catch (err) {
          if (apiCode(err) !== WRONG_LAST_SEQUENCE && !/wrong last sequence|key exists/i.test(errorMessage(err))) throw err;
        }
      }
    } catch (err) {
      throw this.wrap(`cache create ${key}`, err);
    }
  }

  async get(key: string): Promise<string | null> {
    try {
      if (PLAIN_KEY.test(key) && this.direct) {
        // A direct get of the key's last message on our reply subscription: the client's request
        // makes an Error per call (for its stack trace), a cost a deduplicator paid per repeat.
        const m = await this.pub.request(`$JS.API.DIRECT.GET.KV_${this.bucket}.$KV.${this.bucket}.${key}`, EMPTY);
        const code = m.headers?.code ?? 0;
        if (code === 404) return null;
        if (code !== 0 && code !== 200) throw new BrokerUnavailableError(`cache get ${key}: status ${code} ${m.headers?.description ?? ""}`);
        const op = m.headers?.get("KV-Operation");
        return op === "DEL" || op === "PURGE" ? null : decoder.decode(m.data);
      }
      const e = await this.kv.get(key);
      return e && e.operation === "PUT" ? e.string() : null;
    } catch (err) {
      throw this.wrap(`cache get ${key}`, err);
    }
  }

  /** Whether the bucket answers direct gets (allow_direct, as the client creates buckets). */
  private get direct(): boolean {
    return (this.kv as unknown as { direct?: boolean }).direct === true;
  }

  async put(key: string, value: string): Promise<void> {
    try {
      await this.kv.put(key, value);
    } catch (err) {
      throw this.wrap(`cache put ${key}`, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.kv.delete(key);
    } catch (err) {
      throw this.wrap(`cache delete ${key}`, err);
    }
  }

  async size(): Promise<number> {
    try {
      return (await this.jsm.streams.info(`KV_${this.bucket}`)).state.num_subjects ?? 0;
    } catch (err) {
      throw this.wrap(`cache size ${this.bucket}`, err);
    }
  }

  async entries(prefix = ""): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    try {
      // The stream's subjects, in one request: the client's keys() iterator can wait for ever
      // when keys expire (heartbeats do) while it counts them.
      const base = `$KV.${this.bucket}.`;
      const si = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${base}>` });
      const keys = Object.keys(si.state.subjects ?? {}).map((sub) => sub.slice(base.length)).filter((k) => k.startsWith(prefix)).sort();
      const values = await Promise.all(keys.map((k) => this.get(k)));
      keys.forEach((k, i) => { if (values[i] !== null) out.set(k, values[i]!); });
    } catch (err) {
      throw this.wrap(`cache entries ${prefix}`, err);
    }
    return out;
  }
}
