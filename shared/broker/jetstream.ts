// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The JetStream broker (ARCHITECTURE.md "Queues on JetStream"): one WorkQueue stream and one
 * durable pull consumer per queue, PubAck-confirmed publishes with Nats-Msg-Id, acks confirmed
 * by the server, a dumps stream, KV caches, an archive stream fed by republish, and an object
 * store for payloads above the server's max_payload.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  connect, credsAuthenticator, headers as natsHeaders, nanos, nuid,
  type MsgHdrs, type NatsConnection, type NodeConnectionOptions,
} from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType,
  type ConsumerConfig, type ConsumerInfo, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
  type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { pino, type Logger } from "pino";
import { BrokerUnavailableError, PipelineError, UnsupportedFeatureError } from "../errors/index.js";
import {
  ARCHIVE_STREAM, archiveSubject, checkServerVersion, ghostPurgeSeq, CONSUMER_NAME, DEFAULTS, DUMPS_STREAM, dumpSubject, LARGE_ARCHIVE_BUCKET,
  LARGE_BUCKET, LARGE_DUMPS_BUCKET, LOGS_STREAM, logSubject, OBJECT_BUCKET_HEADER, OBJECT_HEADER, REPLAY_HEADER, QUEUE_DESCRIPTION, queueStream, queueSubject,
} from "./names.js";
import { Publisher, type PubAck } from "./publisher.js";
import type {
  BrokerState, ConsumeOptions, Delivery, DumpEntry, JetStreamBroker, KvStore, PeekedMessage, PublishOptions, QueueInfo, QueueSettings, ReplayOptions, ReplayResult,
  RequestHandler, Service, StoredDump,
  Subscription,
} from "./types.js";

/** Used when the caller gives no logger: stderr, so that a CLI's results on stdout stay clean. */
const defaultLog = pino({ name: "broker", level: process.env["INTELMQ_BROKER_LOG_LEVEL"] ?? "info" }, pino.destination(2));

/** Options of connectJetStream(). */
export interface JetStreamOptions {
  /** nats:// URLs; default NATS_URL or nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** Connection name shown by the server (e.g. the bot id). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Credentials file (JWT + NKey seed). */
  credsFile?: string;
  /** TLS files; present = TLS on. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Reconnect for ever (default, -1) or give up after this many attempts. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts (ms, default 1000). */
  reconnectTimeWaitMs?: number;
  /** Bound of every publish, ack and API request (ms, default 5000). */
  timeoutMs?: number;
  /** Logger for the broker's own messages (a child with module "broker" is used). */
  logger?: Logger;
}

/** Room left for headers when deciding whether a payload fits into one message. */
const HEADER_ROOM = 8 * 1024;
/** Key of a stored dump entry whose message lies in LARGE_DUMPS_BUCKET. */
const DUMP_OBJECT_KEY = "intelmq_message_object";
const ACK = new TextEncoder().encode("+ACK");

/** Connect to NATS, check the server version (2.9+), return the JetStream broker. */
export async function connectJetStream(opts: JetStreamOptions = {}): Promise<JetStreamBroker> {
  const servers = opts.servers ?? (process.env["NATS_URL"] ? process.env["NATS_URL"].split(",").map((s) => s.trim()) : "nats://127.0.0.1:4222");
  const co: NodeConnectionOptions = {
    servers,
    maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
    // The first connect fails fast; later losses reconnect for ever.
    waitOnFirstConnect: false,
    // Capturing a stack per request costs a third of the CPU of a hop; our errors say what failed.
    noAsyncTraces: true,
  };
  if (opts.name) co.name = opts.name;
  if (opts.user !== undefined) co.user = opts.user;
  if (opts.pass !== undefined) co.pass = opts.pass;
  if (opts.token !== undefined) co.token = opts.token;
  if (opts.credsFile) co.authenticator = credsAuthenticator(readFileSync(opts.credsFile));
  if (opts.tls) {
    co.tls = {};
    if (opts.tls.caFile) co.tls.caFile = opts.tls.caFile;
    if (opts.tls.certFile) co.tls.certFile = opts.tls.certFile;
    if (opts.tls.keyFile) co.tls.keyFile = opts.tls.keyFile;
  }
  let nc: NatsConnection;
  try {
    nc = await connect(co);
  } catch (err) {
    throw new BrokerUnavailableError(`cannot connect to NATS at ${String(servers)}: ${errText(err)}`, { cause: err });
  }
  try {
    const info = nc.info;
    const version = info?.version ?? "";
    checkServerVersion(version);
    if (info && info.jetstream === false) {
      throw new UnsupportedFeatureError(`JetStream is not enabled on the NATS server at ${String(servers)} (start nats-server with -js)`);
    }
    const timeout = opts.timeoutMs ?? DEFAULTS.publishTimeoutMs;
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout });
    } catch (err) {
      throw new UnsupportedFeatureError(`JetStream is not available on the NATS server at ${String(servers)}: ${errText(err)}`, { cause: err });
    }
    const log = opts.logger ? opts.logger.child({ module: "broker" }) : defaultLog;
    return new JetStreamBrokerImpl(nc, jsm, jetstream(nc, { timeout }), version, info?.max_payload ?? 1024 * 1024, timeout, log);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

function isNotFound(err: unknown): boolean {
  const code = apiCode(err);
  return code === 10059 || code === 10014 || (err instanceof Error && /not found/i.test(err.message));
}

class JetStreamBrokerImpl implements JetStreamBroker {
  readonly kind = "jetstream" as const;
  #state: BrokerState = "connected";
  #listeners = new Set<(s: BrokerState) => void>();
  /** Queues whose stream and consumer this connection made sure of. */
  #ensured = new Map<string, Promise<void>>();
  #held = new Set<JsDelivery>();
  #subs = new Set<JsSubscription>();
  #dumpsReady: Promise<void> | null = null;
  #archiveReady: Promise<void> | null = null;
  #logsReady: Promise<void> | null = null;
  /** The logs stream exists: lines are published as they come. */
  #logsOk = false;
  /** Lines that came while the logs stream was being made sure of (bounded). */
  #logBacklog: [string, string][] = [];
  #logSubjects = new Map<string, string>();
  /** Object store buckets by name: LARGE_BUCKET, and LARGE_ARCHIVE_BUCKET for archived queues. */
  #large = new Map<string, Promise<ObjectStore>>();
  /** Queues whose stream republishes into the archive, with the archive's max age in ms. */
  #archived = new Map<string, number>();
  readonly #pub: Publisher;

  constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    readonly serverVersion: string,
    readonly maxPayload: number,
    readonly timeoutMs: number,
    readonly log: Logger,
  ) {
    this.#pub = new Publisher(nc, timeoutMs);
    void this.#watch();
    nc.closed().then(() => this.#setState("closed"), () => this.#setState("closed"));
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case "disconnect": this.#setState("disconnected"); break;
        case "reconnecting": this.#setState("reconnecting"); break;
        case "reconnect":
          this.#setState("connected");
          this.#purgeAfterReconnect();
          break;
        case "close": this.#setState("closed"); break;
        default: break;
      }
    }
  }

  #setState(s: BrokerState): void {
    if (this.#state === s || this.#state === "closed") return;
    this.#state = s;
    this.log.debug({ state: s }, "NATS connection state");
    for (const l of this.#listeners) {
      try { l(s); } catch (err) { this.log.error({ err }, "broker state listener failed"); }
    }
  }

  get state(): BrokerState {
    return this.#state;
  }

  onState(listener: (s: BrokerState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #live(what: string): void {
    if (this.#state !== "connected") throw new BrokerUnavailableError(`${what}: NATS is ${this.#state}`);
  }

  /** Turn a client/server failure into our error: unavailability unless it is a plain API refusal. */
  #wrap(what: string, err: unknown): Error {
    if (err instanceof BrokerUnavailableError || err instanceof UnsupportedFeatureError || err instanceof PipelineError) return err;
    if (err instanceof JetStreamApiError && ![10077, 10047, 10023, 10008].includes(err.code)) {
      return new PipelineError(`${what}: ${err.message} (JetStream error ${err.code})`, { cause: err });
    }
    return new BrokerUnavailableError(`${what}: ${errText(err)}`, { cause: err });
  }

  // ---- queues ----

  async ensureQueue(queue: string, settings?: QueueSettings): Promise<void> {
    this.#live(`ensure queue ${queue}`);
    const p = this.#ensure(queue, settings);
    this.#ensured.set(queue, p);
    try {
      await p;
    } catch (err) {
      this.#ensured.delete(queue);
      throw this.#wrap(`ensure queue ${queue}`, err);
    }
  }

  /** ensureQueue once per connection, for publishers and consumers that were not told settings. */
  #ensureOnce(queue: string): Promise<void> {
    return this.#ensured.get(queue) ?? this.ensureQueue(queue);
  }

  async #ensure(queue: string, settings: QueueSettings | undefined): Promise<void> {
    const explicit = settings !== undefined;
    const s = settings ?? {};
    const name = queueStream(queue);
    if (s.archive) await this.#ensureArchive(s, explicit);
    const want: Partial<StreamConfig> & { name: string } = {
      name,
      description: QUEUE_DESCRIPTION + queue,
      subjects: [queueSubject(queue)],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_bytes: s.maxBytes ?? DEFAULTS.maxBytes,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(s.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs),
      num_replicas: s.replicas ?? DEFAULTS.replicas,
    };
    if (s.archive) want.republish = { src: queueSubject(queue), dest: archiveSubject(queue) };
    let si = await this.#streamInfo(name);
    for (let attempt = 1; !si; attempt++) {
      try {
        si = await this.jsm.streams.add(want);
      } catch (err) {
        // Someone else created it at the same moment (possibly with other settings); its info
        // may take a moment to appear.
        si = await this.#streamInfo(name);
        if (!si && attempt >= 5) throw err;
        if (!si) await sleep(50 * attempt);
      }
    }
    if (explicit && streamDiffers(si.config, want)) {
      try {
        si = await this.jsm.streams.update(name, { ...si.config, ...want } as StreamConfig);
      } catch (err) {
        this.log.warn({ err: errText(err), queue }, "cannot update the settings of the queue's stream");
      }
    }
    if (si.config.republish?.dest === archiveSubject(queue)) this.#archived.set(queue, s.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs);
    else this.#archived.delete(queue);

    const cwant: Partial<ConsumerConfig> = {
      durable_name: CONSUMER_NAME,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(s.ackWaitMs ?? DEFAULTS.ackWaitMs),
      max_ack_pending: s.maxAckPending ?? DEFAULTS.maxAckPending,
      max_deliver: -1,
    };
    let ci = await this.#consumerInfo(name);
    for (let attempt = 1; !ci; attempt++) {
      try {
        ci = await this.jsm.consumers.add(name, cwant);
      } catch (err) {
        ci = await this.#consumerInfo(name);
        if (!ci && attempt >= 5) throw err;
        if (!ci) await sleep(50 * attempt);
      }
    }
    if (explicit && (
      (s.ackWaitMs !== undefined && ci.config.ack_wait !== cwant.ack_wait) ||
      (s.maxAckPending !== undefined && ci.config.max_ack_pending !== cwant.max_ack_pending))) {
      ci = await this.jsm.consumers.update(name, CONSUMER_NAME, { ack_wait: cwant.ack_wait!, max_ack_pending: cwant.max_ack_pending! });
    }
    await this.#purgeGhosts(queue, si, ci);
  }

  /**
   * Messages at or below the consumer's ack floor were acked: in a WorkQueue stream they can only
   * be left-overs of a crash ("ghosts"). Purging below floor+1 keeps every message above it.
   */
  async #purgeGhosts(queue: string, si: StreamInfo, ci: ConsumerInfo): Promise<void> {
    const seq = ghostPurgeSeq({ stream: si.state, consumer: ci, subject: queueSubject(queue) });
    if (seq === null) return;
    const r = await this.jsm.streams.purge(si.config.name, { seq });
    if (r.purged > 0) this.log.info({ queue, purged: r.purged, ackFloor: seq - 1 }, "purged acked ghost messages from queue");
  }

  /**
   * A server that was killed can keep messages it had acknowledged (they return as "ghosts",
   * never delivered again but counted). The queues this connection consumes are purged up to
   * their ack floor once it is back, and once more when the consumers' state has settled.
   */
  #purgeAfterReconnect(): void {
    for (const delay of [1000, 15_000]) {
      const t = setTimeout(() => {
        if (this.#state !== "connected") return;
        for (const queue of new Set([...this.#subs].map((sub) => sub.queue))) {
          void (async () => {
            const name = queueStream(queue);
            const si = await this.#streamInfo(name);
            const ci = si ? await this.#consumerInfo(name) : null;
            if (si && ci) await this.#purgeGhosts(queue, si, ci);
          })().catch((err: unknown) => this.log.debug({ queue, err: errText(err) }, "ghost purge after reconnect failed"));
        }
      }, delay);
      t.unref();
    }
  }

  async #streamInfo(name: string): Promise<StreamInfo | null> {
    try {
      return await this.jsm.streams.info(name);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async #consumerInfo(stream: string): Promise<ConsumerInfo | null> {
    try {
      return await this.jsm.consumers.info(stream, CONSUMER_NAME);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  #ensureArchive(s: QueueSettings, explicit: boolean): Promise<void> {
    if (!this.#archiveReady || explicit) {
      const p = this.#limitsStream({
        name: ARCHIVE_STREAM,
        description: "IntelMQ archive of queues (replay)",
        subjects: ["intelmq.archive.>"],
        max_age: nanos(s.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs),
        max_bytes: s.archiveMaxBytes ?? DEFAULTS.archiveMaxBytes,
        discard: DiscardPolicy.Old,
        num_replicas: s.replicas ?? DEFAULTS.replicas,
      }, explicit && (s.archiveMaxAgeMs !== undefined || s.archiveMaxBytes !== undefined));
      this.#archiveReady = p;
      p.catch(() => { if (this.#archiveReady === p) this.#archiveReady = null; });
    }
    return this.#archiveReady;
  }

  /** Create a limits-retention stream if missing; update it when asked to. */
  async #limitsStream(want: Partial<StreamConfig> & { name: string }, update: boolean): Promise<void> {
    const cfg: Partial<StreamConfig> & { name: string } = { retention: RetentionPolicy.Limits, storage: StorageType.File, ...want };
    let si = await this.#streamInfo(cfg.name!);
    // Another connection may be creating the same stream: the server then refuses our add while
    // its info still says "not found" for a moment. Ask again before giving up.
    for (let attempt = 1; !si; attempt++) {
      try {
        await this.jsm.streams.add(cfg);
        return;
      } catch (err) {
        si = await this.#streamInfo(cfg.name!);
        if (!si && attempt >= 5) throw err;
        if (!si) await sleep(50 * attempt);
      }
    }
    if (update && streamDiffers(si.config, cfg)) await this.jsm.streams.update(cfg.name!, { ...si.config, ...cfg } as StreamConfig);
  }

  async publish(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<void> {
    await this.#send(queue, data, opts);
  }

  /** publish(), returning the server's PubAck (replay counts duplicates). */
  async #send(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<PubAck> {
    await this.#ensureOnce(queue);
    this.#live(`publish to ${queue}`);
    let h: MsgHdrs | undefined;
    if (opts?.headers) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(opts.headers)) h.set(k, v);
    }
    let payload = data;
    if (data.byteLength > this.maxPayload - HEADER_ROOM) {
      // Too large for one message: the bytes go to the object store, the queue gets a reference.
      // Payloads of archived queues go to a bucket whose objects expire with the archive instead
      // of at ack, so that a replay still finds them.
      const name = opts?.msgId ?? `large-${nuid.next()}`;
      const archiveAge = this.#archived.get(queue);
      const bucket = archiveAge === undefined ? LARGE_BUCKET : LARGE_ARCHIVE_BUCKET;
      try {
        const os = await this.#largeStore(bucket, archiveAge);
        await os.putBlob({ name }, data);
      } catch (err) {
        throw this.#wrap(`store a large payload for ${queue}`, err);
      }
      h ??= natsHeaders();
      h.set(OBJECT_HEADER, name);
      if (bucket !== LARGE_BUCKET) h.set(OBJECT_BUCKET_HEADER, bucket);
      payload = new Uint8Array(0);
    }
    try {
      if (opts?.msgId !== undefined) (h ??= natsHeaders()).set("Nats-Msg-Id", opts.msgId);
      return await this.#pub.publish(queueSubject(queue), payload, h);
    } catch (err) {
      // The stream may have been deleted meanwhile: make sure of it again next time.
      if (/no responders/i.test(errText(err))) this.#ensured.delete(queue);
      const code = apiCode(err);
      if (code === 10077 || code === 10047) {
        throw new BrokerUnavailableError(`queue ${queue} is full: ${errText(err)}`, { cause: err });
      }
      throw this.#wrap(`publish to ${queue}`, err);
    }
  }

  #largeStore(bucket: string = LARGE_BUCKET, ttlMs?: number): Promise<ObjectStore> {
    let p = this.#large.get(bucket);
    if (!p) {
      const archive = bucket === LARGE_ARCHIVE_BUCKET;
      p = new Objm(this.js).create(bucket, {
        storage: StorageType.File,
        description: archive ? "IntelMQ payloads above max_payload of archived queues (kept for replay)"
          : bucket === LARGE_DUMPS_BUCKET ? "IntelMQ messages of dump entries above max_payload" : "IntelMQ payloads above max_payload",
        ...(archive ? { ttl: nanos(ttlMs ?? DEFAULTS.archiveMaxAgeMs) } : {}),
      });
      const mine = p;
      this.#large.set(bucket, mine);
      mine.catch(() => { if (this.#large.get(bucket) === mine) this.#large.delete(bucket); });
    }
    return p;
  }

  async consume(queue: string, opts?: ConsumeOptions): Promise<Subscription> {
    await this.#ensureOnce(queue);
    this.#live(`consume ${queue}`);
    const max = Math.max(1, opts?.maxInFlight ?? DEFAULTS.maxInFlight);
    const stream = queueStream(queue);
    try {
      const ci = await this.jsm.consumers.info(stream, CONSUMER_NAME);
      if (ci.config.max_ack_pending !== -1 && (ci.config.max_ack_pending ?? 0) < max) {
        await this.jsm.consumers.update(stream, CONSUMER_NAME, { max_ack_pending: max });
      }
      const consumer = await this.js.consumers.get(stream, CONSUMER_NAME);
      const messages = await consumer.consume({ max_messages: max });
      const sub = new JsSubscription(this, queue, messages);
      this.#subs.add(sub);
      return sub;
    } catch (err) {
      throw this.#wrap(`consume ${queue}`, err);
    }
  }

  /** Called by JsSubscription for each message: resolve large payloads, track it as held. */
  async toDelivery(queue: string, m: JsMsg): Promise<JsDelivery> {
    let data = m.data;
    let objName: string | null = null;
    const ref = m.headers?.get(OBJECT_HEADER);
    const bucket = m.headers?.get(OBJECT_BUCKET_HEADER) || LARGE_BUCKET;
    if (ref) {
      // Only payloads of the plain bucket belong to this one message; archived ones expire.
      if (bucket === LARGE_BUCKET) objName = ref;
      const blob = await (await this.#largeStore(bucket)).getBlob(ref);
      if (blob) {
        data = blob;
      } else {
        this.log.error({ queue, seq: m.seq, object: ref }, "payload of a large message is missing from the object store");
        data = new Uint8Array(0);
      }
    }
    const d = new JsDelivery(this, queue, m, data, objName);
    this.#held.add(d);
    return d;
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
    this.#live(`ack ${d.queue}#${d.seq}`);
    await new Promise<void>((resolve, reject) => {
      this.#acks.push({ d, resolve, reject });
      if (!this.#ackScheduled) {
        this.#ackScheduled = true;
        setImmediate(() => this.#flushAcks());
      }
    });
    if (d.objName) {
      const name = d.objName;
      this.#largeStore().then((os) => os.delete(name)).catch((err: unknown) => {
        this.log.warn({ queue: d.queue, object: name, err: errText(err) }, "cannot delete a large payload after ack");
      });
    }
  }

  #acks: { d: JsDelivery; resolve: () => void; reject: (e: Error) => void }[] = [];
  #ackScheduled = false;

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
        for (const a of list) if (a !== last) this.nc.publish(replyOf(a.d), ACK);
      } catch (err) {
        const e = this.#wrap(`ack ${queue}`, err);
        for (const a of list) a.reject(e);
        continue;
      }
      this.nc.request(replyOf(last.d), ACK, { timeout: this.timeoutMs }).then(
        () => { for (const a of list) a.resolve(); },
        (err: unknown) => {
          const e = this.#wrap(`ack ${queue}#${last.d.seq}`, err);
          for (const a of list) a.reject(e);
        },
      );
    }
  }

  async depth(queue: string): Promise<number> {
    try {
      const ci = await this.#consumerInfo(queueStream(queue));
      return ci ? ci.num_pending + ci.num_ack_pending : 0;
    } catch (err) {
      throw this.#wrap(`depth of ${queue}`, err);
    }
  }

  async peek(queue: string): Promise<PeekedMessage | null> {
    const stream = queueStream(queue);
    try {
      // WorkQueue retention deletes a message when it is acked: the first one left is the next.
      for (let attempt = 0; attempt < 5; attempt++) {
        const si = await this.#streamInfo(stream);
        if (!si || si.state.messages === 0) return null;
        const sm = await this.jsm.streams.getMessage(stream, { seq: si.state.first_seq }).catch((err: unknown) => {
          if (isNotFound(err)) return null; // acked meanwhile
          throw err;
        });
        if (!sm) continue;
        const headers: Record<string, string> = {};
        let ref: string | null = null;
        let bucket = LARGE_BUCKET;
        if (sm.header) {
          for (const k of sm.header.keys()) {
            if (k === OBJECT_HEADER) ref = sm.header.get(k);
            else if (k === OBJECT_BUCKET_HEADER) bucket = sm.header.get(k) || LARGE_BUCKET;
            else headers[k] = sm.header.get(k);
          }
        }
        const data = ref ? (await (await this.#largeStore(bucket)).getBlob(ref)) ?? new Uint8Array(0) : sm.data;
        return { seq: sm.seq, data, headers };
      }
      return null;
    } catch (err) {
      throw this.#wrap(`peek ${queue}`, err);
    }
  }

  async queueInfo(queue: string): Promise<QueueInfo> {
    try {
      const ci = await this.#consumerInfo(queueStream(queue));
      if (!ci) return { depth: 0, exists: false, archived: false, stored: 0 };
      const si = await this.#streamInfo(queueStream(queue));
      return {
        depth: ci.num_pending + ci.num_ack_pending, exists: true, archived: si?.config.republish?.dest === archiveSubject(queue), stored: si?.state.messages ?? 0,
      };
    } catch (err) {
      throw this.#wrap(`info of ${queue}`, err);
    }
  }

  serverInfo(): { version: string; url: string } {
    return { version: this.serverVersion, url: `nats://${this.nc.getServer()}` };
  }

  // ---- control plane ----

  async serve(subject: string, handler: RequestHandler): Promise<Service> {
    const sub = this.nc.subscribe(subject, {
      callback: (_err, m) => {
        if (!m.reply) return;
        Promise.resolve()
          .then(() => handler(m.data, m.subject))
          .then((out) => m.respond(out), (err: unknown) => this.log.warn({ subject: m.subject, err: errText(err) }, "control request failed"));
      },
    });
    // Requests sent right after serve() returns must find the subscription on the server.
    await this.nc.flush();
    return { stop: async () => { sub.unsubscribe(); } };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      const m = await this.nc.request(subject, data, { timeout: timeoutMs });
      return m.data;
    } catch (err) {
      throw new BrokerUnavailableError(`no reply on ${subject}: ${errText(err)}`, { cause: err });
    }
  }

  async requestMany(subject: string, data: Uint8Array, waitMs: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    try {
      const it = await this.nc.requestMany(subject, data, { strategy: "timer", maxWait: waitMs });
      for await (const m of it) {
        if (m.data.length === 0 && (m.headers?.code ?? 0) >= 300) break; // no responders
        out.push(m.data);
      }
    } catch (err) {
      if (/no responders/i.test(errText(err))) return out;
      throw new BrokerUnavailableError(`requests on ${subject} failed: ${errText(err)}`, { cause: err });
    }
    return out;
  }

  async purge(queue: string): Promise<number> {
    try {
      const r = await this.jsm.streams.purge(queueStream(queue));
      return r.purged;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw this.#wrap(`purge ${queue}`, err);
    }
  }

  async listQueues(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const si of this.jsm.streams.list()) {
        const c = si.config;
        if (!c.name.startsWith("Q_")) continue;
        if (c.description?.startsWith(QUEUE_DESCRIPTION)) out.push(c.description.slice(QUEUE_DESCRIPTION.length));
        else if (c.subjects?.[0]?.startsWith("intelmq.queue.")) out.push(c.subjects[0].slice("intelmq.queue.".length));
      }
    } catch (err) {
      throw this.#wrap("list queues", err);
    }
    return out.sort();
  }

  // ---- dumps ----

  #dumps(): Promise<void> {
    if (!this.#dumpsReady) {
      const p = this.#limitsStream({
        name: DUMPS_STREAM,
        description: "IntelMQ dumps: messages bots gave up on",
        subjects: ["intelmq.dump.>"],
        max_age: 0,
        discard: DiscardPolicy.Old,
      }, false);
      this.#dumpsReady = p;
      p.catch(() => { if (this.#dumpsReady === p) this.#dumpsReady = null; });
    }
    return this.#dumpsReady;
  }

  /**
   * Store a dump entry. An entry above max_payload (a large report that failed whole) keeps its
   * message in the object store, under a name the stored entry carries; readers get it back whole.
   */
  async dump(entry: DumpEntry): Promise<void> {
    try {
      await this.#dumps();
      this.#live("dump");
      let data = new TextEncoder().encode(JSON.stringify(entry));
      if (data.byteLength > this.maxPayload - HEADER_ROOM) {
        const name = `dump-${nuid.next()}`;
        const os = await this.#largeStore(LARGE_DUMPS_BUCKET);
        await os.putBlob({ name }, new TextEncoder().encode(entry.message));
        data = new TextEncoder().encode(JSON.stringify({ ...entry, message: "", [DUMP_OBJECT_KEY]: name }));
      }
      await this.js.publish(dumpSubject(entry.bot_id), data, { timeout: this.timeoutMs });
    } catch (err) {
      throw this.#wrap(`dump of ${entry.bot_id}`, err);
    }
  }

  /** The whole entry: a message kept in the object store is fetched back. */
  async #resolveDump(raw: DumpEntry & { [DUMP_OBJECT_KEY]?: string }, seq: number): Promise<StoredDump> {
    const { [DUMP_OBJECT_KEY]: obj, ...entry } = raw;
    if (obj) {
      const blob = await (await this.#largeStore(LARGE_DUMPS_BUCKET)).getBlob(obj);
      if (blob) entry.message = new TextDecoder().decode(blob);
      else this.log.error({ seq, object: obj }, "the message of a large dump entry is missing from the object store");
    }
    return { ...entry, seq };
  }

  async readDumps(botId?: string): Promise<StoredDump[]> {
    const subject = botId === undefined ? "intelmq.dump.>" : dumpSubject(botId);
    const out: StoredDump[] = [];
    try {
      await this.#dumps();
      const si = await this.jsm.streams.info(DUMPS_STREAM, { subjects_filter: subject });
      const total = Object.values(si.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      if (total === 0) return out;
      // An ordered consumer reads the stream once, oldest first, and leaves nothing behind.
      const oc = await this.js.consumers.get(DUMPS_STREAM, { filter_subjects: subject });
      const it = await oc.consume({ max_messages: Math.min(total, 1000) });
      try {
        for await (const m of it) {
          try {
            out.push(await this.#resolveDump(m.json<DumpEntry>(), m.seq));
          } catch (err) {
            this.log.warn({ seq: m.seq, err: errText(err) }, "unreadable dump entry");
          }
          if (m.info.pending === 0) break;
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw this.#wrap("read dumps", err);
    }
    return out;
  }

  async deleteDump(seq: number): Promise<boolean> {
    try {
      await this.#dumps();
      let obj: string | undefined;
      try {
        const sm = await this.jsm.streams.getMessage(DUMPS_STREAM, { seq });
        obj = (sm?.json<Record<string, unknown>>() ?? {})[DUMP_OBJECT_KEY] as string | undefined;
      } catch { /* gone already, or unreadable: deleting it is all there is to do */ }
      const deleted = await this.jsm.streams.deleteMessage(DUMPS_STREAM, seq, false);
      if (deleted && obj) {
        await (await this.#largeStore(LARGE_DUMPS_BUCKET)).delete(obj).catch((err: unknown) => {
          this.log.warn({ object: obj, err: errText(err) }, "cannot delete the message of a large dump entry");
        });
      }
      return deleted;
    } catch (err) {
      if (apiCode(err) === 10057 || /no message found/i.test(errText(err))) return false;
      throw this.#wrap(`delete dump ${seq}`, err);
    }
  }

  // ---- logs ----

  #logs(): Promise<void> {
    if (!this.#logsReady) {
      const p = this.#limitsStream({
        name: LOGS_STREAM,
        description: "IntelMQ logs: pino lines of every bot",
        subjects: ["intelmq.log.>"],
        max_msgs_per_subject: DEFAULTS.logsMaxPerBot,
        max_age: nanos(DEFAULTS.logsMaxAgeMs),
        discard: DiscardPolicy.Old,
      }, false);
      this.#logsReady = p;
      p.then(() => {
        this.#logsOk = true;
        const backlog = this.#logBacklog;
        this.#logBacklog = [];
        for (const [subject, line] of backlog) this.#sendLog(subject, line);
      }, () => {
        if (this.#logsReady !== p) return;
        this.#logsReady = null;
        // Lines are waiting: try again later rather than only on the next line.
        if (this.#logBacklog.length > 0) setTimeout(() => { if (this.#state === "connected") void this.#logs().catch(() => undefined); }, 1000).unref();
      });
    }
    return this.#logsReady;
  }

  #sendLog(subject: string, line: string): void {
    if (this.#state !== "connected") return;
    try {
      this.nc.publish(subject, line);
    } catch {
      // Closed, draining or too large: a log line is not worth an error in the caller.
    }
  }

  appendLog(botId: string, line: string): void {
    if (this.#state !== "connected") return;
    let subject = this.#logSubjects.get(botId);
    if (subject === undefined) {
      try { subject = logSubject(botId); } catch { return; }
      this.#logSubjects.set(botId, subject);
    }
    const text = line.endsWith("\n") ? line.slice(0, -1) : line;
    if (this.#logsOk) {
      this.#sendLog(subject, text);
      return;
    }
    // The stream is not there yet: keep the first lines until it is, then send them.
    if (this.#logBacklog.length < 1000) this.#logBacklog.push([subject, text]);
    void this.#logs().catch(() => undefined);
  }

  async readLogs(botId: string, max: number): Promise<string[]> {
    if (!(max > 0)) return [];
    const subject = logSubject(botId);
    const out: string[] = [];
    try {
      await this.#logs();
      const si = await this.jsm.streams.info(LOGS_STREAM, { subjects_filter: subject });
      const total = si.state.subjects?.[subject] ?? 0;
      if (total === 0) return out;
      // An ordered consumer reads the bot's lines once, oldest first, and leaves nothing behind.
      const oc = await this.js.consumers.get(LOGS_STREAM, { filter_subjects: subject });
      const it = await oc.consume({ max_messages: Math.min(total, 1000) });
      try {
        for await (const m of it) {
          out.push(m.string());
          if (m.info.pending === 0) break;
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw this.#wrap(`read logs of ${botId}`, err);
    }
    return out.length > max ? out.slice(out.length - max) : out;
  }

  // ---- replay ----

  async replay(queue: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
    this.#live(`replay ${queue}`);
    const subject = archiveSubject(queue);
    const target = opts.target ?? queue;
    const result: ReplayResult = { queue, target, replayed: 0, duplicates: 0, missing: 0, firstSeq: null, lastSeq: null };
    let si: StreamInfo;
    try {
      si = await this.jsm.streams.info(ARCHIVE_STREAM, { subjects_filter: subject });
    } catch (err) {
      if (isNotFound(err)) return result;
      throw this.#wrap(`replay ${queue}`, err);
    }
    if ((si.state.subjects?.[subject] ?? 0) === 0) return result;
    // Replaying into an archived queue archives again: stop at what was there when we started.
    const upTo = si.state.last_seq;
    const untilMs = opts.until ? opts.until.getTime() : Infinity;
    if (!opts.dryRun) await this.#ensureOnce(target);
    const inFlight: Promise<void>[] = [];
    const flush = async () => {
      const batch = inFlight.splice(0);
      const settled = await Promise.allSettled(batch);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw this.#wrap(`replay ${queue} into ${target}`, failed.reason);
    };
    try {
      const oc = await this.js.consumers.get(ARCHIVE_STREAM, {
        filter_subjects: subject,
        ...(opts.since ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() } : {}),
      });
      let done = false;
      while (!done) {
        // fetch() ends after `expires` when nothing (more) matches, so an empty range ends too.
        const batch = await oc.fetch({ max_messages: 256, expires: 1000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > upTo || m.time.getTime() > untilMs) { done = true; break; }
          const last = m.info.pending === 0;
          // A replay into an archived queue is archived again: its original is here already.
          if (m.headers?.has(REPLAY_HEADER)) {
            if (last) { done = true; break; }
            continue;
          }
          result.firstSeq ??= m.seq;
          result.lastSeq = m.seq;
          if (opts.dryRun) {
            result.replayed++;
          } else if (m.headers?.has(OBJECT_HEADER)) {
            // Storing a large payload takes longer than a plain publish: keep the order.
            await flush();
            await this.#replayOne(m, target, result);
          } else {
            inFlight.push(this.#replayOne(m, target, result));
            if (inFlight.length >= 256) await flush();
          }
          // Stop the fetch here rather than wait for its expiry.
          if (last) { done = true; break; }
        }
        if (got === 0) done = true;
      }
      await flush();
    } catch (err) {
      await Promise.allSettled(inFlight);
      throw this.#wrap(`replay ${queue}`, err);
    }
    return result;
  }

  async #replayOne(m: JsMsg, target: string, result: ReplayResult): Promise<void> {
    const headers: Record<string, string> = {};
    let ref: string | undefined;
    let bucket = LARGE_BUCKET;
    if (m.headers) {
      for (const k of m.headers.keys()) {
        // The server's republish headers and the original id stay behind.
        if (k.startsWith("Nats-")) continue;
        if (k === OBJECT_HEADER) ref = m.headers.get(k);
        else if (k === OBJECT_BUCKET_HEADER) bucket = m.headers.get(k) || LARGE_BUCKET;
        else headers[k] = m.headers.get(k);
      }
    }
    let data = m.data;
    if (ref) {
      const blob = await (await this.#largeStore(bucket)).getBlob(ref).catch(() => null);
      if (!blob) {
        result.missing++;
        this.log.warn({ seq: m.seq, object: ref, bucket }, "replay: the large payload of an archived message is gone; skipped");
        return;
      }
      data = blob;
    }
    headers[REPLAY_HEADER] = String(m.seq);
    const ack = await this.#send(target, data, { msgId: `replay:${m.seq}`, headers });
    if (ack.duplicate) result.duplicates++;
    else result.replayed++;
  }

  // ---- caches ----

  async cache(bucket: string, ttlSeconds: number): Promise<KvStore> {
    try {
      const kvm = new Kvm(this.js);
      let kv: KV;
      try {
        kv = await kvm.create(bucket, { ttl: Math.max(0, ttlSeconds) * 1000, history: 1, storage: StorageType.File });
      } catch (err) {
        // Exists with other settings (another TTL): use it as it is.
        this.log.warn({ bucket, err: errText(err) }, "opening the existing KV bucket as it is");
        kv = await kvm.open(bucket);
      }
      return new JsKv(kv, bucket, this.#pub, this.jsm, (what, err) => this.#wrap(what, err));
    } catch (err) {
      throw this.#wrap(`cache ${bucket}`, err);
    }
  }

  async openCache(bucket: string): Promise<KvStore | null> {
    try {
      const si = await this.#streamInfo(`KV_${bucket}`);
      if (!si) return null;
      const kv = await new Kvm(this.js).open(bucket, { allow_direct: si.config.allow_direct ?? false });
      return new JsKv(kv, bucket, this.#pub, this.jsm, (what, err) => this.#wrap(what, err));
    } catch (err) {
      throw this.#wrap(`cache ${bucket}`, err);
    }
  }

  async deleteCache(bucket: string): Promise<boolean> {
    return this.#deleteStream(`KV_${bucket}`, `delete cache ${bucket}`);
  }

  async deleteQueue(queue: string): Promise<boolean> {
    this.#ensured.delete(queue);
    return this.#deleteStream(queueStream(queue), `delete queue ${queue}`);
  }

  async #deleteStream(name: string, what: string): Promise<boolean> {
    try {
      return await this.jsm.streams.delete(name);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.#wrap(what, err);
    }
  }

  async close(): Promise<void> {
    if (this.#state === "closed" && this.nc.isClosed()) return;
    // Stop pulling first, so that what we give back is not delivered to our own pull requests.
    const left: JsMsg[] = [];
    for (const sub of [...this.#subs]) left.push(...await sub.handOver());
    // Unacked work goes back at once rather than after ack_wait.
    const held = [...this.#held];
    for (const d of held) d.release();
    nakAll([...left, ...held.map((d) => d.msg)]);
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => undefined);
    }
    this.#pub.close();
    this.#setState("closed");
  }
}

function replyOf(d: JsDelivery): string {
  return (d.msg as unknown as { reply: string }).reply;
}

function streamDiffers(have: StreamConfig, want: Partial<StreamConfig>): boolean {
  for (const [k, v] of Object.entries(want)) {
    const h = (have as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(h) !== JSON.stringify(v)) return true;
  }
  return false;
}

class JsDelivery implements Delivery {
  #headers: Record<string, string> | null = null;
  #done = false;

  constructor(
    private readonly broker: JetStreamBrokerImpl,
    readonly queue: string,
    readonly msg: JsMsg,
    readonly data: Uint8Array,
    readonly objName: string | null,
  ) {}

  get seq(): number {
    return this.msg.seq;
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
    await this.broker.confirmAck(this);
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
    this.broker.released(this);
  }

  /** Taken over by close(), which gives it back. */
  release(): void {
    this.#settle();
  }
}

class JsSubscription implements Subscription {
  #stopped = false;
  #given = false;
  #src: AsyncIterator<JsMsg>;
  #drained: Promise<JsMsg[]> | null = null;

  constructor(private readonly broker: JetStreamBrokerImpl, readonly queue: string, private readonly messages: ConsumerMessages) {
    this.#src = messages[Symbol.asyncIterator]();
  }

  /**
   * Stop pulling. Resolves with the messages the client had pulled but never handed out; the caller
   * gives them back. (ConsumerMessages.close() only completes once its buffer is read, so read it here.)
   */
  halt(): Promise<JsMsg[]> {
    if (!this.#drained) {
      this.#stopped = true;
      this.broker.unsubscribed(this);
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
          d = await this.broker.toDelivery(this.queue, m);
        } catch (err) {
          // The large payload could not be fetched now (connection lost): try again later.
          this.broker.log.warn({ queue: this.queue, seq: m.seq, err: errText(err) }, "cannot resolve a delivery, giving it back");
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
function nakAll(msgs: JsMsg[]): void {
  for (const m of [...msgs].sort((a, b) => b.seq - a.seq)) m.nak();
}

/** Headers of a KV create, shared by every create (publishing only reads them). */
const CREATE_HEADERS = natsHeaders();
CREATE_HEADERS.set("Nats-Expected-Last-Subject-Sequence", "0");

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
    try {
      if (PLAIN_KEY.test(key)) {
        // The common case in one publish: "create" = no earlier revision of the key.
        try {
          await this.pub.publish(`$KV.${this.bucket}.${key}`, value, CREATE_HEADERS);
          return true;
        } catch (err) {
          // The key has a revision: a live value, or a delete marker the client's create handles.
          if (apiCode(err) !== 10071) throw err;
        }
      }
      await this.kv.create(key, value);
      return true;
    } catch (err) {
      const code = apiCode(err);
      if (code === 10071 || /wrong last sequence|key exists/i.test(errText(err))) return false;
      throw this.wrap(`cache create ${key}`, err);
    }
  }

  async get(key: string): Promise<string | null> {
    try {
      const e = await this.kv.get(key);
      return e && e.operation === "PUT" ? e.string() : null;
    } catch (err) {
      throw this.wrap(`cache get ${key}`, err);
    }
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
