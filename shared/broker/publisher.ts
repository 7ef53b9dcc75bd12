// SPDX-License-Identifier: AGPL-3.0-only
/**
 * JetStream publishes through one reply subscription of our own. The client's js.publish()
 * makes a request per message (a reply mux entry, a timer and an error object each), which
 * cost ~30 µs of CPU per publish here; this costs ~8 µs and keeps the same semantics:
 * a publish resolves with the server's PubAck, rejects with the server's API error, and
 * times out. The connection re-subscribes by itself after a reconnect.
 */
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";

export interface PubAck { stream: string; seq: number; duplicate?: boolean }

interface Waiting { resolve: (a: PubAck) => void; reject: (e: Error) => void; at: number }

const decoder = new TextDecoder();

export class Publisher {
  readonly #prefix = createInbox();
  readonly #waiting = new Map<string, Waiting>();
  readonly #sub: Subscription;
  readonly #sweep: NodeJS.Timeout;
  #next = 0;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (_err, m) => {
        const id = m.subject.slice(this.#prefix.length + 1);
        const w = this.#waiting.get(id);
        if (!w) return; // timed out before
        this.#waiting.delete(id);
        if (m.data.length === 0) {
          // A status message: 503 means no stream listens on the subject.
          const code = m.headers?.code ?? 0;
          w.reject(new Error(code === 503 ? "no responders: no stream for the subject" : `publish failed: status ${code} ${m.headers?.description ?? ""}`));
          return;
        }
        try {
          const a = JSON.parse(decoder.decode(m.data)) as PubAck & { error?: { code: number; err_code: number; description: string } };
          if (a.error) w.reject(new JetStreamApiError(a.error));
          else w.resolve(a);
        } catch (err) {
          w.reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
    });
    this.#sweep = setInterval(() => this.#expire(), Math.min(500, timeoutMs));
    this.#sweep.unref();
  }

  /** Publish and await the PubAck. */
  publish(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<PubAck> {
    const id = (this.#next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, at: Date.now() });
      try {
        this.nc.publish(subject, data, headers ? { reply: `${this.#prefix}.${id}`, headers } : { reply: `${this.#prefix}.${id}` });
      } catch (err) {
        this.#waiting.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Fail everything still waiting (the connection is gone): callers retry with the same ids. */
  failAll(reason: string): void {
    const err = new Error(reason);
    for (const w of this.#waiting.values()) w.reject(err);
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
      w.reject(new Error(`timeout: no PubAck within ${this.timeoutMs} ms`));
    }
  }
}
