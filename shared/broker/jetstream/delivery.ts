// SPDX-License-Identifier: AGPL-3.0-only
/** A delivery (a JetStream message held until settled) and a running pull consumer of a queue. */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { OBJECT_BUCKET_HEADER, OBJECT_HEADER } from "../names.js";
import type { Delivery, RawStream, Subscription } from "../types.js";
import { errorMessage } from "../../errors/index.js";


/** What deliveries and subscriptions need of their queues. */
export interface DeliveryOwner {
  toDelivery(queue: string, m: JsMsg, streamRaw: boolean): Promise<JsDelivery>;
  released(d: JsDelivery): void;
  unsubscribed(s: JsSubscription): void;
  confirmAck(d: JsDelivery): Promise<void>;
  readonly log: { warn(obj: object, msg: string): void };
}

const EMPTY = new Uint8Array(0);

export class JsDelivery implements Delivery {
  #headers: Record<string, string> | null = null;
  #done = false;
  #data: Uint8Array;

  constructor(
    private readonly owner: DeliveryOwner,
    readonly queue: string,
    readonly msg: JsMsg,
    data: Uint8Array,
    /** The object holding the payload, deleted once acked (null: the payload was inline or archived). */
    readonly objName: string | null,
    /** A framed envelope's raw, streamed from the object store (then `data` is its head). */
    readonly raw?: RawStream,
  ) {
    this.#data = data;
  }

  get data(): Uint8Array {
    return this.#data;
  }

  forget(): void {
    this.#data = EMPTY;
  }

  get seq(): number {
    return this.msg.seq;
  }

  get published(): number {
    return Number(this.msg.info.timestampNanos / 1_000_000);
  }

  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }

  get headers(): Readonly<Record<string, string>> {
    if (!this.#headers) {
      const out: Record<string, string> = {};
      const h = this.msg.headers;
      if (h) for (const k of h.keys()) if (k !== OBJECT_HEADER && k !== OBJECT_BUCKET_HEADER) out[k] = h.get(k);
      this.#headers = out;
    }
    return this.#headers;
  }

  async ack(): Promise<void> {
    if (this.#done) return;
    await this.owner.confirmAck(this);
    this.#settle();
  }

  nak(delayMs?: number): void {
    if (this.#done) return;
    this.#settle();
    this.msg.nak(delayMs && delayMs > 0 ? delayMs : undefined);
  }

  term(): void {
    if (this.#done) return;
    this.#settle();
    this.msg.term();
  }

  working(): void {
    if (!this.#done) this.msg.working();
  }

  #settle(): void {
    this.#done = true;
    this.owner.released(this);
  }

  /** Taken over by close(), which gives it back. */
  release(): void {
    this.#settle();
  }
}

export class JsSubscription implements Subscription {
  #stopped = false;
  #given = false;
  #src: AsyncIterator<JsMsg>;
  #drained: Promise<JsMsg[]> | null = null;

  constructor(private readonly owner: DeliveryOwner, readonly queue: string, private readonly messages: ConsumerMessages, private readonly streamRaw = false) {
    this.#src = messages[Symbol.asyncIterator]();
  }

  /**
   * Stop pulling. Resolves with the messages the client had pulled but never handed out; the caller
   * gives them back. (ConsumerMessages.close() only completes once its buffer is read, so read it here.)
   */
  halt(): Promise<JsMsg[]> {
    if (!this.#drained) {
      this.#stopped = true;
      this.owner.unsubscribed(this);
      this.messages.close().catch(() => undefined);
      this.#drained = (async () => {
        const out: JsMsg[] = [];
        for (;;) {
          const r = await this.#src.next();
          if (r.done) return out;
          out.push(r.value);
        }
      })().catch(() => []);
    }
    return this.#drained;
  }

  async stop(): Promise<void> {
    const left = await this.halt();
    if (this.#given) return;
    this.#given = true;
    nakAll(left);
  }

  /** halt(), leaving the giving back to the caller. */
  async handOver(): Promise<JsMsg[]> {
    const left = await this.halt();
    if (this.#given) return [];
    this.#given = true;
    return left;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    try {
      for (;;) {
        const r = await this.#src.next();
        if (r.done) return;
        const m = r.value;
        if (this.#stopped) {
          // Pulled but never handed out: give back at once.
          m.nak();
          continue;
        }
        let d: JsDelivery;
        try {
          d = await this.owner.toDelivery(this.queue, m, this.streamRaw);
        } catch (err) {
          // The large payload could not be fetched now (connection lost): try again later.
          this.owner.log.warn({ queue: this.queue, seq: m.seq, err: errorMessage(err) }, "cannot resolve a delivery, giving it back");
          m.nak(1000);
          continue;
        }
        yield d;
      }
    } finally {
      await this.stop();
    }
  }
}

/**
 * Give messages back, highest stream sequence first: nats-server 2.9 can lose track of a nak'ed
 * message when the last delivered one is nak'ed after lower ones.
 */
export function nakAll(msgs: JsMsg[]): void {
  for (const m of [...msgs].sort((a, b) => b.seq - a.seq)) m.nak();
}
