// SPDX-License-Identifier: AGPL-3.0-only
/**
 * JetStream publishes through one reply subscription of our own. The client's js.publish()
 * makes a request per message (a reply mux entry, a timer and an error object each), which
 * cost ~30 µs of CPU per publish here; this costs ~8 µs and keeps the same semantics:
 * a publish resolves with the server's PubAck, rejects with the server's API error, and
 * times out. The connection re-subscribes by itself after a reconnect. Every other failure
 * (no PubAck in time, no stream, the connection gone) is a BrokerUnavailableError: retry.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { BrokerUnavailableError, errorMessage } from "../errors/index.js";

export interface PubAck { stream: string; seq: number; duplicate?: boolean }
/** The server's refusal of a publish (an API error), as data: no Error object is made for it. */
export interface PubRefusal { error: { code: number; err_code: number; description: string } }

/** A publish waiting for its answer; several publishes of one batch share one (`id`: which of them). */
interface Waiting { reply: (m: Msg, id: string) => void; reject: (e: Error) => void; at: number; subject: string; awaits: string }

const decoder = new TextDecoder();
/** How a PubAck begins; a refusal begins with `{"error"`. */
const PUBACK_START = new TextEncoder().encode('{"stream"');

function isPubAck(d: Uint8Array): boolean {
  if (d.length <= PUBACK_START.length) return false;
  for (let i = 0; i < PUBACK_START.length; i++) if (d[i] !== PUBACK_START[i]) return false;
  return true;
}

/**
 * Headers encoded once, for headers every publish of a kind shares (a KV create's expected
 * sequence): the client encodes a message's headers on each publish, a string and its bytes,
 * and reads nothing of them but encode(). Everything else reads through to `h`, which must not
 * change afterwards.
 */
export function encodedOnce(h: MsgHdrs): MsgHdrs {
  type Encodes = MsgHdrs & { encode(): Uint8Array };
  const bytes = (h as Encodes).encode();
  const fixed = Object.create(h) as Encodes;
  fixed.encode = () => bytes;
  return fixed;
}

export class Publisher {
  readonly #prefix: string;
  readonly #waiting = new Map<string, Waiting>();
  readonly #sub: Subscription;
  readonly #sweep: NodeJS.Timeout;
  #next = 0;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {
    // The connection's inbox prefix: per-user permissions allow replies only there.
    this.#prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix ?? "");
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (_err, m) => {
        if (!m) return; // the subscription refused (permissions): publishes time out, the refusal is logged
        const id = m.subject.slice(this.#prefix.length + 1);
        const w = this.#waiting.get(id);
        if (!w) return; // timed out before
        this.#waiting.delete(id);
        w.reply(m, id);
      },
    });
    this.#sweep = setInterval(() => this.#expire(), Math.min(500, timeoutMs));
    this.#sweep.unref();
  }

  /** Publish and await the PubAck; the server's refusal rejects as JetStreamApiError. */
  async publish(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<PubAck> {
    const r = await this.tryPublish(subject, data, headers);
    if ("error" in r) throw new JetStreamApiError(r.error);
    return r;
  }

  /**
   * Publish and await the PubAck or the server's refusal, which resolves as data: a refusal that
   * is an answer (a KV create of a key that exists) costs no Error and no stack trace.
   */
  tryPublish(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<PubAck | PubRefusal> {
    return new Promise<PubAck | PubRefusal>((resolve, reject) => {
      this.#send(subject, data, headers, "PubAck", (m) => this.#answer(subject, m, resolve, reject), reject);
    });
  }

  /**
   * tryPublish() for a caller that needs only to know whether the server took the message: null
   * when it did, its refusal otherwise. A PubAck (`{"stream":...`) is not decoded
   * (a KV create).
   */
  tryPublishOk(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<PubRefusal | null> {
    return new Promise<PubRefusal | null>((resolve, reject) => {
      this.#send(subject, data, headers, "PubAck", (m) => {
        if (isPubAck(m.data)) {
          resolve(null);
          return;
        }
        this.#answer(subject, m, (r) => resolve("error" in r ? r : null), reject);
      }, reject);
    });
  }

  /** A request answered on the same reply subscription (a JetStream direct get): the answer as it came, status messages included. */
  request(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => this.#send(subject, data, headers, "answer", resolve, reject));
  }

  #send(subject: string, data: Uint8Array | string, headers: MsgHdrs | undefined, awaits: string, reply: (m: Msg) => void, reject: (e: Error) => void): void {
    const id = (this.#next++).toString(36);
    this.#waiting.set(id, { reply, reject, at: Date.now(), subject, awaits });
    try {
      this.nc.publish(subject, data, headers ? { reply: `${this.#prefix}.${id}`, headers } : { reply: `${this.#prefix}.${id}` });
    } catch (err) {
      this.#waiting.delete(id);
      reject(new BrokerUnavailableError(`publish to ${subject}: ${errorMessage(err)}`, { cause: err }));
    }
  }

  /** The server's answer to a publish: its PubAck or refusal, or a status message (an Error). */
  #answer(subject: string, m: Msg, resolve: (r: PubAck | PubRefusal) => void, reject: (e: Error) => void): void {
    if (m.data.length === 0) {
      // A status message: 503 means no stream listens on the subject.
      const code = m.headers?.code ?? 0;
      reject(new BrokerUnavailableError(code === 503
        ? `no responders: no stream for ${subject}`
        : `publish to ${subject} failed: status ${code} ${m.headers?.description ?? ""}`));
      return;
    }
    try {
      resolve(JSON.parse(decoder.decode(m.data)) as PubAck | PubRefusal);
    } catch (err) {
      reject(new BrokerUnavailableError(`unreadable PubAck for ${subject}: ${errorMessage(err)}`, { cause: err }));
    }
  }

  /** Fail everything still waiting (the connection is gone): callers retry with the same ids. */
  failAll(reason: string): void {
    for (const w of this.#waiting.values()) w.reject(new BrokerUnavailableError(`publish to ${w.subject}: ${reason}`));
    this.#waiting.clear();
  }

  close(): void {
    clearInterval(this.#sweep);
    this.failAll("connection closed");
    this.#sub.unsubscribe();
  }

  #expire(): void {
    const limit = Date.now() - this.timeoutMs;
    for (const [id, w] of this.#waiting) {
      if (w.at > limit) break; // insertion order is age order
      this.#waiting.delete(id);
      w.reject(new BrokerUnavailableError(`publish to ${w.subject}: timeout, no ${w.awaits} within ${this.timeoutMs} ms`));
    }
  }
}
