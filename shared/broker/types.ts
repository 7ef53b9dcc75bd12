// SPDX-License-Identifier: AGPL-3.0-only
/** The broker interface: JetStream for real runs, memory for tests and library mode. */

export interface PublishOptions {
  /** Deterministic id (Nats-Msg-Id): the server drops a repeat within its duplicate window. */
  msgId?: string;
  headers?: Record<string, string>;
}

/** The raw of a framed envelope, read from where it is stored a piece at a time (see Delivery.raw). */
export interface RawStream {
  /** Bytes in all. */
  readonly size: number;
  /** The bytes from the beginning, each call anew. */
  chunks(): AsyncIterable<Uint8Array>;
}

/** One message taken from a queue, held until ack/nak/term. */
export interface Delivery {
  readonly queue: string;
  /** The envelope; of a framed envelope that is streamed (`raw`), only its head. */
  readonly data: Uint8Array;
  /** A large framed envelope's raw, left where it is stored and read when needed (only with ConsumeOptions.streamRaw; absent: all of it is in `data`). */
  readonly raw?: RawStream;
  readonly headers: Readonly<Record<string, string>>;
  /** Stream sequence of the message in its queue: stable across redeliveries. */
  readonly seq: number;
  /** How many times it has been delivered (1 = first time). */
  readonly deliveryCount: number;
  /** When it entered its queue (ms since the epoch, the broker's clock): the latency histograms' start. */
  readonly published?: number;
  /** Remove from the queue. Resolves when the server confirmed the ack. */
  ack(): Promise<void>;
  /** Give back for redelivery, after delayMs. */
  nak(delayMs?: number): void;
  /** Never redeliver (the message stays out of the consumer). */
  term(): void;
  /** Still working: extend the ack deadline. */
  working(): void;
  /** The payload is no longer needed (it was decoded): let a large one's memory go. `data` is empty after. */
  forget?(): void;
}

export interface ConsumeOptions {
  /** Upper bound of deliveries held unacked by this subscriber (and by the durable consumer). Default 1000. */
  maxInFlight?: number;
  /** Hand out a large framed envelope as its head with its raw streamed (`Delivery.raw`); else whole, in `data`. */
  streamRaw?: boolean;
}

/** A running consumer. Iterate for deliveries; stop() ends the iteration (held deliveries stay valid). */
export interface Subscription extends AsyncIterable<Delivery> {
  stop(): Promise<void>;
}

/** What `intelmqctl list queues` and `check` see of a queue. */
export interface QueueInfo {
  /** Waiting plus held unacked. */
  depth: number;
  /** Of depth, those handed to a bot and not acknowledged yet (in flight); absent where unknown. */
  ackPending?: number;
  /** Its stream and consumer exist. */
  exists: boolean;
  /** What it receives is copied into the archive (replay). */
  archived: boolean;
  /** Messages its stream holds: depth, plus acknowledged ones a server crash left behind until they are purged. */
  stored: number;
  /** Bytes its stream holds (what counts against maxBytes). */
  bytes: number;
  /** Its stream's limits (null: none, or no stream): a queue at a limit refuses new messages. */
  maxBytes: number | null;
  maxMsgs: number | null;
  /** Replicas of its stream (JetStream; absent for the memory broker and a queue without stream). */
  replicas?: number;
}

/** A message looked at, not taken. */
export interface PeekedMessage {
  seq: number;
  data: Uint8Array;
  headers: Readonly<Record<string, string>>;
}

/** A key/value cache with a bucket-wide TTL (JetStream KV or memory). */
export interface KvCache {
  /** Create the key; false if it exists already (atomic). */
  create(key: string, value: string): Promise<boolean>;
  /** Create the key, or read what it holds: null when this call created it, else the value it has. */
  createOrGet(key: string, value: string): Promise<string | null>;
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * Keys held by their first owner for a TTL, shared by every connection (the deduplicator's
 * cache): a claim is answered from memory when the key is known, else by one message for all
 * new keys of a call. Keys are hashes (64 bits of them are kept) or any text (hashed).
 */
export interface ClaimSet {
  /**
   * For each key, whether `owners[i]` holds it after this call: true when it is new (this call
   * claimed it) or was claimed by the same owner before, false when another owner has it. A
   * key twice in one call is claimed by its first owner. Atomic across connections.
   */
  claim(keys: readonly string[], owners: readonly string[]): Promise<boolean[]>;
  /** Keys held in this process (expired ones not yet dropped included). */
  readonly size: number;
  /** Stop following the other connections' claims. */
  close(): Promise<void>;
}

/** Limits of one claim set besides its TTL. */
export interface ClaimLimits {
  /** Keys held in memory; when full, the oldest half is forgotten. Default 2,097,152. */
  maxEntries?: number;
  /** What the broker stores of it (JetStream: its stream's max_bytes, the oldest go first). Default: cacheMaxBytes. */
  maxBytes?: number;
}

/** IntelMQ's dump entry, plus where and when. */
export interface DumpEntry {
  bot_id: string;
  source_queue: string | null;
  /** Traceback lines (IntelMQ: list of lines; a string for parser line failures). */
  traceback: string[] | string;
  /** Serialised JSON text of the message, or base64 with message_type "base64". */
  message: string;
  message_type?: "base64";
  /** Naive UTC ISO timestamp, as the key of IntelMQ's dump file. */
  timestamp: string;
}

export interface StoredDump extends DumpEntry {
  /** Sequence in the dumps stream (the id intelmqdump uses). */
  seq: number;
}

export type BrokerState = "connected" | "disconnected" | "reconnecting" | "closed";

export interface QueueSettings {
  /** max_bytes of a queue stream; full queues push back (discard new). Default 1 GiB. */
  maxBytes?: number;
  /** max_msgs of a queue stream (-1: none); pushes back as maxBytes does. Default none. */
  maxMsgs?: number;
  /** duplicate window in milliseconds. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** Stream replicas. Default 1. */
  replicas?: number;
  /** Republish into the archive stream (intelmq.archive.<queue>). */
  archive?: boolean;
  /** max_age of the archive stream in milliseconds (default 7 days); used when archive is on. */
  archiveMaxAgeMs?: number;
  /** max_bytes of the archive stream (default 10 GiB; the oldest go first). */
  archiveMaxBytes?: number;
  /** ack_wait of the queue's consumer in milliseconds. Default 30 s. */
  ackWaitMs?: number;
  /** max_ack_pending of the queue's consumer. Default 1000; consume() raises it to its maxInFlight. */
  maxAckPending?: number;
}

/**
 * Size limits of what the broker creates besides the queues (runtime.yaml's global *_max_bytes
 * keys); unset ones are DEFAULTS'. Given at connect; a set one is applied to an existing stream
 * or bucket too (lowering it only while that holds well below the new limit).
 */
export interface BrokerLimits {
  /** The dumps stream: when full, bots wait to dump (nothing is dropped). */
  dumpsMaxBytes?: number;
  /** Object store of dumped messages above max_payload: as dumpsMaxBytes. */
  dumpsLargeMaxBytes?: number;
  /** The logs stream: the oldest lines go first. */
  logsMaxBytes?: number;
  /** Object store of queue payloads above max_payload: when full, producers wait. */
  largeMaxBytes?: number;
  /** Object store of archived payloads above max_payload: when full, new ones are not archived. */
  archiveLargeMaxBytes?: number;
  /** KV buckets: the heartbeats', the delivery attempts' and the bots' caches (the oldest keys go first). */
  statusMaxBytes?: number;
  deliveriesMaxBytes?: number;
  cacheMaxBytes?: number;
  /** Replicas of the streams and buckets besides the queues (dumps, logs, archive, KV, object stores) when created; default 1. */
  replicas?: number;
}

/** Limits of one KV bucket besides its TTL. */
export interface KvLimits {
  /** max_bytes of the bucket; when full, its oldest keys go first. Default: the broker's cacheMaxBytes. */
  maxBytes?: number;
}

/** What `intelmqctl replay` asks of the archive. */
export interface ReplayOptions {
  /** Only what was archived at or after this time (default: everything kept). */
  since?: Date;
  /** Only what was archived at or before this time (default: up to the moment the replay starts). */
  until?: Date;
  /** Queue to publish into (default: the archived queue itself). */
  target?: string;
  /** Count what would be replayed, publish nothing. */
  dryRun?: boolean;
  /** Called after each message handled (replayed, duplicate or missing), with the counts so far: for a progress display. */
  onProgress?: (sofar: Readonly<ReplayResult>) => void;
}

export interface ReplayResult {
  queue: string;
  target: string;
  /** Messages published into the target (or, in a dry run, that would be). */
  replayed: number;
  /** Dropped by the target's duplicate window: the same archived message replayed again within it. */
  duplicates: number;
  /** Large payloads no longer in the object store: skipped. */
  missing: number;
  /** Archive sequences of the first and last message replayed. */
  firstSeq: number | null;
  lastSeq: number | null;
}

/** Answers requests on a subject: the request's bytes in, the reply's bytes out. */
export type RequestHandler = (data: Uint8Array, subject: string) => Uint8Array | Promise<Uint8Array>;

/** A served subject; stop() unsubscribes. */
export interface Service {
  stop(): Promise<void>;
}

/**
 * Request/reply for the control plane, on the same connection as the queues. Every subscriber
 * of a subject answers (no queue group): a request to a bot reaches all its instances.
 */
export interface ControlTransport {
  /** Answer requests on `subject` (NATS wildcards allowed). A handler that throws replies nothing. */
  serve(subject: string, handler: RequestHandler): Promise<Service>;
  /** The first reply. Throws BrokerUnavailableError when nobody answers within timeoutMs. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Every reply that arrives within waitMs (scatter/gather); [] when nobody answers. */
  requestMany(subject: string, data: Uint8Array, waitMs: number): Promise<Uint8Array[]>;
}

/** A KV bucket whose keys can be listed (heartbeats). */
export interface KvStore extends KvCache {
  /** Every live key and value, optionally only keys starting with `prefix`. */
  entries(prefix?: string): Promise<Map<string, string>>;
  /** How many keys the bucket holds (cheap: no values are read; may count expired keys the server has not removed yet). */
  size(): Promise<number>;
}

/** The queues: one stream and one durable consumer each (WorkQueue retention, explicit acks). */
export interface Queues {
  /** Create the queue's stream and durable consumer if missing (idempotent); purge ghost messages. */
  ensure(queue: string, settings?: QueueSettings): Promise<void>;
  /** Publish and await the server's confirmation. Throws BrokerUnavailableError while disconnected/timeouts. */
  publish(queue: string, data: Uint8Array, opts?: PublishOptions): Promise<void>;
  consume(queue: string, opts?: ConsumeOptions): Promise<Subscription>;
  /** Messages waiting plus held unacked (IntelMQ's queue size). */
  depth(queue: string): Promise<number>;
  /** What `intelmqctl list queues` shows: depth, whether it exists and is archived, what its stream holds. */
  info(queue: string): Promise<QueueInfo>;
  /** The next message of a queue without taking it (intelmqctl run ... message get); null when empty. */
  peek(queue: string): Promise<PeekedMessage | null>;
  /** Empty the queue; returns how many were removed. */
  purge(queue: string): Promise<number>;
  /**
   * Messages the queue holds although its consumer counts them as acknowledged: after a crash of
   * the server, acknowledged messages whose removal was lost, and now and then one the server
   * lost track of (delivered just before the crash, never acknowledged). Up to `max`, oldest first.
   */
  strays(queue: string, max?: number): Promise<PeekedMessage[]>;
  /** Remove one message by its sequence; false when it was not there. */
  remove(queue: string, seq: number): Promise<boolean>;
  /**
   * Delete a queue: its stream, consumer, messages and remembered message ids (the duplicate
   * window); false if there was none. Whoever uses the queue next creates it again.
   */
  delete(queue: string): Promise<boolean>;
  /** Every queue that exists. */
  list(): Promise<string[]>;
}

/** The dumps: what bots gave up on, in IntelMQ's dump entry shape (subject intelmq.dump.<bot-id>). */
export interface DumpStore {
  /** Store an entry of any size; resolves once stored. */
  store(entry: DumpEntry): Promise<void>;
  /** Entries of one bot or all, oldest first. */
  read(botId?: string): Promise<StoredDump[]>;
  /** How many entries each of these bots has (0 for none), without reading them. */
  counts(botIds: readonly string[]): Promise<Map<string, number>>;
  /** Delete one entry by its sequence; false if it was not there. */
  delete(seq: number): Promise<boolean>;
}

/** The bots' log lines (subject intelmq.log.<bot-id>), so that `intelmqctl log` works from any host. */
export interface LogStore {
  /** Append one line of a bot. Fire and forget: never blocks, never throws, dropped while disconnected. */
  append(botId: string, line: string): void;
  /** The last `max` lines of a bot (Infinity: all kept), oldest first. */
  read(botId: string, max: number): Promise<string[]>;
}

/** The archive of queues with archiving on (the raw reports collectors queue). */
export interface Archive {
  /**
   * Publish again what the archive kept of a queue, oldest first, from `since` up to what was
   * archived when the replay started, with ids `replay:<seq>`.
   */
  replay(queue: string, opts?: ReplayOptions): Promise<ReplayResult>;
}

/** KV buckets: caches with a bucket-wide TTL (heartbeats, delivery attempts, bots' caches), and claim sets (the deduplicator's). */
export interface KvBuckets {
  /**
   * Open (create) a bucket with a TTL in seconds (0 = none) and a size limit (default: the
   * broker's cacheMaxBytes); an existing bucket gets that limit.
   */
  open(bucket: string, ttlSeconds: number, limits?: KvLimits): Promise<KvStore>;
  /** Open a bucket only if it exists (null if not): for readers that must not create anything. */
  openExisting(bucket: string): Promise<KvStore | null>;
  /** Delete a bucket and everything in it; false if there was none. */
  delete(bucket: string): Promise<boolean>;
  /** Open (create) a claim set with a TTL in seconds (0 = none): its keys known so far are loaded. */
  claims(name: string, ttlSeconds: number, limits?: ClaimLimits): Promise<ClaimSet>;
  /** Delete a claim set and everything in it; false if there was none. */
  deleteClaims(name: string): Promise<boolean>;
}

/**
 * A connection to the broker, its parts by concern: queues, dumps, logs, archive, KV buckets
 * and the control plane's request/reply.
 */
export interface Broker {
  readonly kind: "memory" | "jetstream";
  /** The size limits it was given, with the defaults for the rest. */
  readonly limits: Readonly<Required<BrokerLimits>>;
  readonly queues: Queues;
  readonly dumps: DumpStore;
  readonly logs: LogStore;
  readonly archive: Archive;
  readonly kv: KvBuckets;
  readonly control: ControlTransport;
  /** The server's version ("memory" for the memory broker) and the URL connected to. */
  serverInfo(): { version: string; url: string; cluster?: string };
  /** Current connection state; listeners get every change. */
  readonly state: BrokerState;
  onState(listener: (s: BrokerState) => void): () => void;
  close(): Promise<void>;
}

/** The JetStream broker: a Broker plus what the connected server told us. */
export interface JetStreamBroker extends Broker {
  readonly kind: "jetstream";
  /** The server's version string (e.g. "2.9.10"). */
  readonly serverVersion: string;
  /** The server's max_payload: larger messages travel through the object store. */
  readonly maxPayload: number;
}
