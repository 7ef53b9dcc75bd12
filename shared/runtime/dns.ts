// SPDX-License-Identifier: AGPL-3.0-only
/**
 * DNS lookups for experts (Cymru, Abusix, reverse DNS, gethostbyname): a node:dns Resolver on the
 * configured servers, answers sorted into "the name has no such data" (NXDOMAIN, NODATA: null,
 * the event passes unchanged as in IntelMQ) and "the lookup failed" (timeout, SERVFAIL, refused,
 * unreachable server: thrown, so that the runtime retries the message and finally dumps it
 * instead of forwarding it without the data), and a TTL cache over the bot's KV bucket.
 */
import { Resolver } from "node:dns/promises";
import { z } from "zod";
import { ConfigurationError } from "../errors/index.js";
import { parseIp } from "../harmonization/index.js";
import type { KvCache } from "../broker/index.js";
import { p } from "./params.js";

/** Codes of node:dns meaning "no such name" or "no data of this type": an answer, not a failure. */
const NO_DATA = new Set(["ENOTFOUND", "ENODATA"]);

/** The parameters every DNS-based expert takes (ours; IntelMQ used the host's resolver). */
export const dnsParams = {
  dns_server: p.list().nullable().default(null)
    .describe("Ours: DNS servers to ask (\"127.0.0.1:5353\", \"[::1]:53\"; a list or comma-separated). Unset: the host's resolvers (/etc/resolv.conf)"),
  dns_timeout: z.coerce.number().positive().default(5)
    .describe("Ours: seconds to wait for one answer before trying again"),
  dns_tries: p.int().pipe(z.number().int().min(1)).default(2)
    .describe("Ours: attempts per server before the lookup counts as failed (the message is then retried by the runtime and finally dumped)"),
};

/** A lookup that failed (no answer, a server failure): the message is retried, then dumped. */
export class DnsLookupError extends Error {
  override readonly name = "DnsLookupError";
  constructor(readonly query: string, readonly rrtype: string, readonly code: string, cause?: unknown) {
    super(`DNS lookup ${rrtype} ${query} failed: ${code}`, { cause });
  }
}

export interface DnsOptions {
  dns_server: string[] | null;
  dns_timeout: number;
  dns_tries: number;
}

/** A resolver on the configured servers. */
export class DnsClient {
  readonly #resolver: Resolver;
  constructor(opts: DnsOptions) {
    this.#resolver = new Resolver({ timeout: Math.round(opts.dns_timeout * 1000), tries: opts.dns_tries });
    if (opts.dns_server && opts.dns_server.length) {
      try {
        this.#resolver.setServers(opts.dns_server);
      } catch (err) {
        throw new ConfigurationError("dns_server", `not usable as DNS servers: ${JSON.stringify(opts.dns_server)}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  get servers(): string[] {
    return this.#resolver.getServers();
  }

  /**
   * TXT records, each one string (its character strings joined, read as UTF-8: node:dns hands
   * the bytes over as Latin-1); null: no such name or no TXT.
   */
  txt(name: string): Promise<string[] | null> {
    return this.#ask(name, "TXT", () => this.#resolver.resolveTxt(name)
      .then((rs) => rs.map((chunks) => Buffer.from(chunks.join(""), "latin1").toString("utf8"))));
  }

  /** PTR names of an address; null: none. */
  ptr(ip: string): Promise<string[] | null> {
    return this.#ask(reverseName(ip), "PTR", () => this.#resolver.resolvePtr(reverseName(ip)));
  }

  a(name: string): Promise<string[] | null> {
    return this.#ask(name, "A", () => this.#resolver.resolve4(name));
  }

  aaaa(name: string): Promise<string[] | null> {
    return this.#ask(name, "AAAA", () => this.#resolver.resolve6(name));
  }

  async #ask<T>(name: string, rrtype: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code ?? "EUNKNOWN";
      if (NO_DATA.has(code)) return null;
      throw new DnsLookupError(name, rrtype, code, err);
    }
  }

  cancel(): void {
    this.#resolver.cancel();
  }
}

/** The reverse name of an address: 4.3.2.1.in-addr.arpa, or 32 nibbles under ip6.arpa. */
export function reverseName(ip: string): string {
  return `${reverseLabels(ip)}.${parseIp(ip)?.version === 6 ? "ip6.arpa" : "in-addr.arpa"}`;
}

/** The labels before in-addr.arpa / ip6.arpa of an address (Cymru's and Abusix' query prefix). */
export function reverseLabels(ip: string): string {
  const a = parseIp(ip);
  if (!a) throw new ConfigurationError("ip", `not an IP address: ${JSON.stringify(ip)}`);
  if (a.version === 4) return [a.v4 & 255, (a.v4 >>> 8) & 255, (a.v4 >>> 16) & 255, a.v4 >>> 24].join(".");
  return [...a.v6.toString(16).padStart(32, "0")].reverse().join(".");
}

/**
 * Answers kept in the bot's KV bucket (TTL: the bucket's), each entry with its own expiry too,
 * so that short-lived entries (a failed PTR kept 60 s) live shorter than the bucket's TTL.
 * Keys are base64url of the caller's key: KV keys allow no ':' (IPv6).
 */
export class LookupCache {
  readonly #pending = new Map<string, Promise<string>>();
  constructor(readonly kv: KvCache | null, readonly ttlSeconds: number) {}

  /**
   * The cached value of `key`, else the one `compute` gives (stored for its `ttl`, default the
   * cache's). Concurrent calls for one key (the events of an envelope are processed together)
   * share one computation: one DNS query. A computation that throws stores nothing.
   */
  through(key: string, compute: () => Promise<{ value: string; ttl?: number }>): Promise<string> {
    let p = this.#pending.get(key);
    if (!p) {
      p = (async () => {
        const cached = await this.get(key);
        if (cached !== null) return cached;
        const { value, ttl } = await compute();
        await this.set(key, value, ttl);
        return value;
      })().finally(() => this.#pending.delete(key));
      this.#pending.set(key, p);
    }
    return p;
  }

  async get(key: string): Promise<string | null> {
    if (!this.kv) return null;
    const v = await this.kv.get(cacheKey(key));
    if (v === null) return null;
    const bar = v.indexOf("|");
    const exp = Number(v.slice(0, bar));
    if (bar < 0 || !Number.isFinite(exp) || exp <= Date.now()) return null;
    return v.slice(bar + 1);
  }

  async set(key: string, value: string, ttlSeconds = this.ttlSeconds): Promise<void> {
    if (!this.kv || ttlSeconds <= 0) return;
    const exp = Date.now() + ttlSeconds * 1000;
    await this.kv.put(cacheKey(key), `${exp}|${value}`);
  }
}

function cacheKey(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}
