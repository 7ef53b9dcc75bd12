// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Queues on JetStream (ARCHITECTURE.md "Queues on JetStream"): one WorkQueue stream and one
 * durable pull consumer per queue, PubAck-confirmed publishes with Nats-Msg-Id, acks confirmed
 * by the server, payloads above max_payload through the object store; streams.ts makes them.
 */
import { headers as natsHeaders, nuid, type MsgHdrs } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import { BrokerUnavailableError, errorMessage } from "../../errors/index.js";
import {
  archiveSubject, CONSUMER_NAME, DEFAULTS, LARGE_ARCHIVE_BUCKET, LARGE_BUCKET, OBJECT_BUCKET_HEADER, OBJECT_HEADER, QUEUE_DESCRIPTION, queueStream, queueSubject,
} from "../names.js";
import type { PubAck } from "../publisher.js";
import type { ConsumeOptions, PeekedMessage, RawStream, PublishOptions, QueueInfo, Queues, QueueSettings, Subscription } from "../types.js";
import { HEADER_ROOM, apiCode, isNotFound, type JsConnection } from "./connection.js";
import { JsDelivery, JsSubscription, nakAll, type DeliveryOwner } from "./delivery.js";
import { ensureQueueStream, readStored } from "./streams.js";
import { objectChunks } from "./objects.js";
import { frameLayout } from "../../message/index.js";

const ACK = new TextEncoder().encode("+ACK");

export class JsQueues implements Queues, DeliveryOwner {
  /** Queues whose stream and consumer this connection made sure of. */
  readonly #ensured = new Map<string, Promise<void>>();
  readonly #held = new Set<JsDelivery>();
  readonly #subs = new Set<JsSubscription>();
  /** Queues whose stream republishes into the archive, with the archive's max age in ms. */
  readonly #archived = new Map<string, number>();
  #acks: { d: JsDelivery; resolve: () => void; reject: (e: Error) => void }[] = [];
  #ackScheduled = false;

  constructor(private readonly c: JsConnection, private readonly archiveStream: (s: QueueSettings, explicit: boolean) => Promise<void>) {}

  get log(): JsConnection["log"] { return this.c.log; }

  async ensure(queue: string, settings?: QueueSettings): Promise<void> {
    this.c.live(`ensure queue ${queue}`);
    const p = this.#ensure(queue, settings);
    this.#ensured.set(queue, p);
    try {
      await p;
    } catch (err) {
      this.#ensured.delete(queue);
      throw this.c.wrap(`ensure queue ${queue}`, err);
    }
  }

  /** ensure() once per connection, for publishers and consumers that were not told settings. */
  ensureOnce(queue: string): Promise<void> {
    return this.#ensured.get(queue) ?? this.ensure(queue);
  }

  async #ensure(queue: string, settings: QueueSettings | undefined): Promise<void> {
    const { si } = await ensureQueueStream(this.c, queue, settings, this.archiveStream);
    if (si.config.republish?.dest === archiveSubject(queue)) this.#archived.set(queue, settings?.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs);
    else this.#archived.delete(queue);
  }

  async publish(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<void> {
    await this.send(queue, data, opts);
  }

  /** publish(), returning the server's PubAck (replay counts duplicates). */
  async send(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<PubAck> {
    await this.ensureOnce(queue);
    this.c.live(`publish to ${queue}`);
    let h: MsgHdrs | undefined;
    if (opts?.headers) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(opts.headers)) h.set(k, v);
    }
    let payload = data;
    if (data.byteLength > this.c.maxPayload - HEADER_ROOM) {
      // Too large for one message: the bytes go to the object store, the queue gets a reference.
      // Payloads of archived queues go to a bucket whose objects expire with the archive instead
      // of at ack, so that a replay still finds them.
      const name = opts?.msgId ?? `large-${nuid.next()}`;
      const archiveAge = this.#archived.get(queue);
      let bucket = archiveAge === undefined ? LARGE_BUCKET : LARGE_ARCHIVE_BUCKET;
      try {
        await (await this.c.largeStore(bucket, archiveAge)).putBlob({ name }, data);
      } catch (err) {
        if (apiCode(err) !== 10077) throw this.c.wrap(`store a large payload for ${queue}`, err);
        if (bucket === LARGE_BUCKET) {
          throw new BrokerUnavailableError(`store a large payload for ${queue}: object store ${LARGE_BUCKET} is full (large_max_bytes): ${errorMessage(err)}`, { cause: err });
        }
        // The archive's payloads are full: the queue does not wait for the archive. This payload
        // travels like one of a queue that is not archived (deleted at ack); a replay counts it
        // missing.
        this.log.warn({ queue, bucket, err: errorMessage(err) }, "the archive's object store is full (archive_large_max_bytes): this large payload is not archived");
        bucket = LARGE_BUCKET;
        try {
          await (await this.c.largeStore(bucket)).putBlob({ name }, data);
        } catch (err2) {
          if (apiCode(err2) === 10077) {
            throw new BrokerUnavailableError(`store a large payload for ${queue}: object store ${LARGE_BUCKET} is full (large_max_bytes): ${errorMessage(err2)}`, { cause: err2 });
          }
          throw this.c.wrap(`store a large payload for ${queue}`, err2);
        }
      }
      h ??= natsHeaders();
      h.set(OBJECT_HEADER, name);
      if (bucket !== LARGE_BUCKET) h.set(OBJECT_BUCKET_HEADER, bucket);
      payload = new Uint8Array(0);
    }
    try {
      if (opts?.msgId !== undefined) (h ??= natsHeaders()).set("Nats-Msg-Id", opts.msgId);
      return await this.c.pub.publish(queueSubject(queue), payload, h);
    } catch (err) {
      // The stream may have been deleted meanwhile: make sure of it again next time.
      if (/no responders/i.test(errorMessage(err))) this.#ensured.delete(queue);
      const code = apiCode(err);
      if (code === 10077 || code === 10047) {
        // Discard new: a full queue refuses; the sender waits and tries again (push back).
        throw new BrokerUnavailableError(`queue ${queue} is full: ${errorMessage(err)}`, { cause: err });
      }
      throw this.c.wrap(`publish to ${queue}`, err);
    }
  }

  async consume(queue: string, opts?: ConsumeOptions): Promise<Subscription> {
    await this.ensureOnce(queue);
    this.c.live(`consume ${queue}`);
    const max = Math.max(1, opts?.maxInFlight ?? DEFAULTS.maxInFlight);
    const stream = queueStream(queue);
    try {
      const ci = await this.c.jsm.consumers.info(stream, CONSUMER_NAME);
      if (ci.config.max_ack_pending !== -1 && (ci.config.max_ack_pending ?? 0) < max) {
        await this.c.jsm.consumers.update(stream, CONSUMER_NAME, { max_ack_pending: max });
      }
      const consumer = await this.c.js.consumers.get(stream, CONSUMER_NAME);
      const messages = await consumer.consume({ max_messages: max });
      const sub = new JsSubscription(this, queue, messages, opts?.streamRaw === true);
      this.#subs.add(sub);
      return sub;
    } catch (err) {
      throw this.c.wrap(`consume ${queue}`, err);
    }
  }

  /** Called by JsSubscription for each message: resolve large payloads, track it as held. */
  async toDelivery(queue: string, m: JsMsg, streamRaw: boolean): Promise<JsDelivery> {
    let data = m.data;
    let objName: string | null = null;
    const ref = m.headers?.get(OBJECT_HEADER);
    const bucket = m.headers?.get(OBJECT_BUCKET_HEADER) || LARGE_BUCKET;
    let raw: RawStream | undefined;
    if (ref) {
      // Only payloads of the plain bucket belong to this one message; archived ones expire.
      if (bucket === LARGE_BUCKET) objName = ref;
      const got = streamRaw ? await this.#large(bucket, ref) : await this.#whole(bucket, ref);
      if (got) {
        ({ data, raw } = got);
      } else {
        this.log.error({ queue, seq: m.seq, object: ref }, "payload of a large message is missing from the object store");
        data = new Uint8Array(0);
      }
    }
    const d = new JsDelivery(this, queue, m, data, objName, raw);
    this.#held.add(d);
    return d;
  }

  /**
   * A large payload: a framed envelope's head, its raw left in the store to be streamed;
   * anything else whole. null: the object is gone.
   */
  async #large(bucket: string, name: string): Promise<{ data: Uint8Array; raw?: RawStream } | null> {
    const os = await this.c.largeStore(bucket);
    const info = await os.info(name);
    if (!info || info.deleted) return null;
    let start: Uint8Array = new Uint8Array(0);
    for await (const chunk of objectChunks(this.c, bucket, info)) {
      start = start.length ? Buffer.concat([start, chunk]) : chunk;
      const layout = frameLayout(start);
      if (layout === "short" && start.length < info.size) continue;
      if (layout === null || layout === "short") break;
      if (start.length < layout.rawOffset && start.length < info.size) continue;
      const data = start.subarray(layout.headOffset, layout.rawOffset);
      const c = this.c;
      return { data, raw: { size: info.size - layout.rawOffset, chunks: () => objectChunks(c, bucket, info, layout.rawOffset) } };
    }
    return await this.#whole(bucket, name);
  }

  async #whole(bucket: string, name: string): Promise<{ data: Uint8Array; raw?: RawStream } | null> {
    const blob = await (await this.c.largeStore(bucket)).getBlob(name);
    return blob ? { data: blob } : null;
  }

  released(d: JsDelivery): void {
    this.#held.delete(d);
  }

  unsubscribed(s: JsSubscription): void {
    this.#subs.delete(s);
  }

  /**
   * Confirmed ack. Acks that arrive together are sent as one burst per queue: all but the last
   * without a reply, the last as a request. The server handles one connection's acks of one
   * consumer in order, so its reply to the last confirms the whole burst (one round trip, not N).
   */
  async confirmAck(d: JsDelivery): Promise<void> {
    this.c.live(`ack ${d.queue}#${d.seq}`);
    await new Promise<void>((resolve, reject) => {
      this.#acks.push({ d, resolve, reject });
      if (!this.#ackScheduled) {
        this.#ackScheduled = true;
        setImmediate(() => this.#flushAcks());
      }
    });
    if (d.objName) {
      const name = d.objName;
      this.c.largeStore().then((os) => os.delete(name)).catch((err: unknown) => {
        this.log.warn({ queue: d.queue, object: name, err: errorMessage(err) }, "cannot delete a large payload after ack");
      });
    }
  }

  #flushAcks(): void {
    this.#ackScheduled = false;
    const batch = this.#acks;
    this.#acks = [];
    const byQueue = new Map<string, typeof batch>();
    for (const a of batch) {
      const list = byQueue.get(a.d.queue);
      if (list) list.push(a); else byQueue.set(a.d.queue, [a]);
    }
    for (const [queue, list] of byQueue) {
      const last = list[list.length - 1]!;
      try {
        for (const a of list) if (a !== last) this.c.nc.publish(replyOf(a.d), ACK);
      } catch (err) {
        const e = this.c.wrap(`ack ${queue}`, err);
        for (const a of list) a.reject(e);
        continue;
      }
      // On the publisher's reply subscription: the client's request() makes an Error per call.
      this.c.pub.request(replyOf(last.d), ACK).then(
        (m) => {
          // a status instead of the empty confirmation (503: nobody took the ack) is a failure
          const code = m.headers?.code ?? 0;
          if (code === 0 || code === 200) for (const a of list) a.resolve();
          else {
            const e = new BrokerUnavailableError(`ack ${queue}#${last.d.seq}: status ${code} ${m.headers?.description ?? ""}`);
            for (const a of list) a.reject(e);
          }
        },
        (err: unknown) => {
          const e = this.c.wrap(`ack ${queue}#${last.d.seq}`, err);
          for (const a of list) a.reject(e);
        },
      );
    }
  }

  async depth(queue: string): Promise<number> {
    return (await this.info(queue)).depth;
  }

  /**
   * Depth is what the consumer has not seen acked (pending + ack pending), but never more than
   * the stream holds: nats-server counts a message twice for a while when it was given back
   * (nak) and handed out again, and a stream can hold acked ghosts after a crash, which are
   * no depth either.
   */
  async info(queue: string): Promise<QueueInfo> {
    try {
      const ci = await this.c.consumerInfo(queueStream(queue));
      if (!ci) return { depth: 0, exists: false, archived: false, stored: 0, bytes: 0, maxBytes: null, maxMsgs: null };
      const si = await this.c.streamInfo(queueStream(queue));
      const stored = si?.state.messages ?? 0;
      const limit = (n: number | undefined) => (n === undefined || n <= 0 ? null : n);
      return {
        depth: Math.min(ci.num_pending + ci.num_ack_pending, stored), ackPending: Math.min(ci.num_ack_pending, stored), exists: true, archived: si?.config.republish?.dest === archiveSubject(queue), stored,
        bytes: si?.state.bytes ?? 0, maxBytes: limit(si?.config.max_bytes), maxMsgs: limit(si?.config.max_msgs),
        ...(si ? { replicas: si.config.num_replicas } : {}),
      };
    } catch (err) {
      throw this.c.wrap(`info of ${queue}`, err);
    }
  }

  async peek(queue: string): Promise<PeekedMessage | null> {
    const stream = queueStream(queue);
    try {
      // WorkQueue retention deletes a message when it is acked: the first one left is the next.
      for (let attempt = 0; attempt < 5; attempt++) {
        const si = await this.c.streamInfo(stream);
        if (!si || si.state.messages === 0) return null;
        const m = await readStored(this.c, stream, si.state.first_seq);
        if (m) return m;
      }
      return null;
    } catch (err) {
      throw this.c.wrap(`peek ${queue}`, err);
    }
  }

  /**
   * Messages the stream holds although the consumer counts them as acknowledged (at or below its
   * ack floor): after a crash of nats-server, acknowledged messages whose removal was lost, and
   * now and then one the server lost track of (delivered before the crash, never acknowledged).
   * Up to `max`, lowest sequence first.
   */
  async strays(queue: string, max = 100): Promise<PeekedMessage[]> {
    const stream = queueStream(queue);
    const out: PeekedMessage[] = [];
    try {
      const si = await this.c.streamInfo(stream);
      const ci = si ? await this.c.consumerInfo(stream) : null;
      if (!si || !ci || si.state.messages === 0) return out;
      const floor = ci.ack_floor.stream_seq;
      for (let seq = si.state.first_seq; seq <= floor && out.length < max; seq++) {
        const m = await readStored(this.c, stream, seq);
        if (m) out.push(m);
      }
    } catch (err) {
      throw this.c.wrap(`strays of ${queue}`, err);
    }
    return out;
  }

  async remove(queue: string, seq: number): Promise<boolean> {
    try {
      return await this.c.jsm.streams.deleteMessage(queueStream(queue), seq, false);
    } catch (err) {
      if (isNotFound(err) || /no message found/i.test(errorMessage(err))) return false;
      throw this.c.wrap(`remove ${queue}#${seq}`, err);
    }
  }

  async purge(queue: string): Promise<number> {
    try {
      const r = await this.c.jsm.streams.purge(queueStream(queue));
      return r.purged;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw this.c.wrap(`purge ${queue}`, err);
    }
  }

  async delete(queue: string): Promise<boolean> {
    this.#ensured.delete(queue);
    return this.c.deleteStream(queueStream(queue), `delete queue ${queue}`);
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const si of this.c.jsm.streams.list()) {
        const c = si.config;
        if (!c.name.startsWith("Q_")) continue;
        if (c.description?.startsWith(QUEUE_DESCRIPTION)) out.push(c.description.slice(QUEUE_DESCRIPTION.length));
        else if (c.subjects?.[0]?.startsWith("intelmq.queue.")) out.push(c.subjects[0].slice("intelmq.queue.".length));
      }
    } catch (err) {
      throw this.c.wrap("list queues", err);
    }
    return out.sort();
  }

  /** Before the connection closes: stop pulling and give back at once what was held, rather than after ack_wait. */
  async handBack(): Promise<void> {
    // Stop pulling first, so that what we give back is not delivered to our own pull requests.
    const left: JsMsg[] = [];
    for (const sub of [...this.#subs]) left.push(...await sub.handOver());
    const held = [...this.#held];
    for (const d of held) d.release();
    nakAll([...left, ...held.map((d) => d.msg)]);
  }
}

function replyOf(d: JsDelivery): string {
  return (d.msg as unknown as { reply: string }).reply;
}
