// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Users and sessions of the API, as intelmq-api keeps them, in KV buckets instead of SQLite so
 * that an API on any host sees the same users and sessions:
 *   api-users     <username> -> {"hash": "scrypt$N$r$p$<salt hex>$<key hex>"}
 *   api-sessions  <token>    -> {"username", "modified": ms}
 * A session expires `duration` seconds after its last use (intelmq-api's session_duration); every
 * request that uses it renews it.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { Broker, KvStore } from "../../shared/broker/index.js";

export const USERS_BUCKET = "api-users";
export const SESSIONS_BUCKET = "api-sessions";
const SESSIONS_TTL_S = 7 * 86400;

// scrypt's cost: N=2^15 (32 MiB with r=8), about 50 ms per login here; the parameters are stored
// with each hash so that they can grow later.
const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, { N: n, r, p, maxmem: 256 * n * r }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$key` of a password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P, KEYLEN);
  return `scrypt$${N}$${R}$${P}$${salt.toString("hex")}$${key.toString("hex")}`;
}

/** Whether `password` matches a hash of hashPassword(). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([0-9a-f]+)\$([0-9a-f]+)$/.exec(hash);
  if (!m) return false;
  const want = Buffer.from(m[5]!, "hex");
  const got = await derive(password, Buffer.from(m[4]!, "hex"), Number(m[1]), Number(m[2]), Number(m[3]), want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A KV key may hold only [-/_=.a-zA-Z0-9]: a username outside that is stored hex-encoded. */
function userKey(username: string): string {
  return /^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/.test(username) && !username.endsWith(".") ? username : `hex.${Buffer.from(username).toString("hex")}`;
}

/** The users and sessions of the API. */
export class SessionStore {
  #users: Promise<KvStore> | null = null;
  #sessions: Promise<KvStore> | null = null;

  /** `durationS`: seconds a session lives without use. */
  constructor(private readonly broker: Broker, readonly durationS: number) {}

  private users(): Promise<KvStore> {
    this.#users ??= this.broker.kv.open(USERS_BUCKET, 0);
    return this.#users;
  }

  private sessions(): Promise<KvStore> {
    // The bucket's TTL only removes sessions nobody uses any more; the expiry itself is checked
    // below. One TTL for every API (whoever creates the bucket sets it): a week, or longer
    // sessions' duration.
    this.#sessions ??= this.broker.kv.open(SESSIONS_BUCKET, Math.max(SESSIONS_TTL_S, Math.ceil(this.durationS) + 60));
    return this.#sessions;
  }

  /** Add a user or set a user's password (intelmq-api-adduser). */
  async addUser(username: string, password: string): Promise<void> {
    await (await this.users()).put(userKey(username), JSON.stringify({ username, hash: await hashPassword(password) }));
  }

  /** True when the user exists and the password is theirs. */
  async verifyUser(username: string, password: string): Promise<boolean> {
    const raw = await (await this.users()).get(userKey(username));
    if (raw === null) {
      // As long as a real check, so that the time does not tell whether a user exists.
      await verifyPassword(password, `scrypt$${N}$${R}$${P}$00$${"00".repeat(KEYLEN)}`);
      return false;
    }
    const { hash } = JSON.parse(raw) as { hash: string };
    return await verifyPassword(password, hash);
  }

  /** A new session for a user: its token (32 hex digits, as intelmq-api's). */
  async newSession(username: string): Promise<string> {
    const token = randomBytes(16).toString("hex");
    await (await this.sessions()).put(token, JSON.stringify({ username, modified: Date.now() }));
    return token;
  }

  /** The user of a valid token, renewing the session; null when unknown or expired. */
  async verifyToken(token: string, now = Date.now()): Promise<string | null> {
    if (!/^[0-9a-f]{32}$/.test(token)) return null;
    const kv = await this.sessions();
    const raw = await kv.get(token);
    if (raw === null) return null;
    const s = JSON.parse(raw) as { username: string; modified: number };
    if (now - s.modified > this.durationS * 1000) {
      await kv.delete(token).catch(() => undefined);
      return null;
    }
    await kv.put(token, JSON.stringify({ username: s.username, modified: now }));
    return s.username;
  }
}
