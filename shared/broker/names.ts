// SPDX-License-Identifier: AGPL-3.0-only
/** Names, subjects, defaults and version checks shared by both broker implementations. */
import { createHash } from "node:crypto";
import { UnsupportedFeatureError } from "../errors/index.js";
import type { BrokerLimits } from "./types.js";

/** Defaults of queue streams and consumers (ARCHITECTURE.md "Queues on JetStream"). */
export const DEFAULTS = {
  maxBytes: 1024 ** 3,
  /** max_msgs of a queue stream: -1 is none (max_bytes bounds it). */
  maxMsgs: -1,
  duplicateWindowMs: 2 * 60_000,
  replicas: 1,
  ackWaitMs: 30_000,
  maxAckPending: 1000,
  maxInFlight: 1000,
  archiveMaxAgeMs: 7 * 24 * 3600_000,
  archiveMaxBytes: 10 * 1024 ** 3,
  publishTimeoutMs: 5000,
  /** The logs stream keeps this many lines per bot (max_msgs_per_subject)... */
  logsMaxPerBot: 10_000,
  /** ...for at most this long (max_age)... */
  logsMaxAgeMs: 7 * 24 * 3600_000,
  /** ...and in all at most this many bytes (the oldest lines go first). */
  logsMaxBytes: 256 * 1024 ** 2,
  /** The dumps stream (discard new: a bot waits to dump rather than lose an entry). */
  dumpsMaxBytes: 1024 ** 3,
  /** Messages of dump entries above max_payload (object store, discard new). */
  dumpsLargeMaxBytes: 1024 ** 3,
  /** Queue payloads above max_payload (object store, discard new: producers wait). */
  largeMaxBytes: 10 * 1024 ** 3,
  /** Archived payloads above max_payload (object store, discard new: when full, new ones are not archived). */
  archiveLargeMaxBytes: 10 * 1024 ** 3,
  /** KV buckets (discard old: a full bucket forgets its oldest keys, as a cache does). */
  statusMaxBytes: 64 * 1024 ** 2,
  deliveriesMaxBytes: 64 * 1024 ** 2,
  cacheMaxBytes: 1024 ** 3,
  /** Keys a claim set holds in each process's memory (~25 bytes each when full). */
  claimMaxEntries: 2 * 1024 ** 2,
} as const;

/** The limits given, with DEFAULTS for the rest. */
export function resolveLimits(given: BrokerLimits = {}): Required<BrokerLimits> {
  return {
    dumpsMaxBytes: given.dumpsMaxBytes ?? DEFAULTS.dumpsMaxBytes,
    dumpsLargeMaxBytes: given.dumpsLargeMaxBytes ?? DEFAULTS.dumpsLargeMaxBytes,
    logsMaxBytes: given.logsMaxBytes ?? DEFAULTS.logsMaxBytes,
    largeMaxBytes: given.largeMaxBytes ?? DEFAULTS.largeMaxBytes,
    archiveLargeMaxBytes: given.archiveLargeMaxBytes ?? DEFAULTS.archiveLargeMaxBytes,
    statusMaxBytes: given.statusMaxBytes ?? DEFAULTS.statusMaxBytes,
    deliveriesMaxBytes: given.deliveriesMaxBytes ?? DEFAULTS.deliveriesMaxBytes,
    cacheMaxBytes: given.cacheMaxBytes ?? DEFAULTS.cacheMaxBytes,
    replicas: given.replicas ?? DEFAULTS.replicas,
  };
}

/** Name of the durable consumer every queue has. */
export const CONSUMER_NAME = "intelmq";
export const DUMPS_STREAM = "dumps";
export const ARCHIVE_STREAM = "archive";
export const LOGS_STREAM = "logs";
export const LARGE_BUCKET = "intelmq-large";
/** Large payloads of archived queues: they expire with the archive, not at ack. */
export const LARGE_ARCHIVE_BUCKET = "intelmq-large-archive";
/** Messages of dump entries above max_payload: the entry holds their object's name instead. */
export const LARGE_DUMPS_BUCKET = "intelmq-large-dumps";
/** A claim set's stream and subject: its claims, a batch per message (shared/broker/claim-table.ts). */
export function claimsStream(name: string): string {
  return `CLAIMS_${name}`;
}
export function claimsSubject(name: string): string {
  return `intelmq.claims.${name}`;
}
/** Header of a message whose payload lies in the object store. */
export const OBJECT_HEADER = "Intelmq-Object";
/** Header of a replayed message: its sequence in the archive stream. */
export const REPLAY_HEADER = "Intelmq-Replay";
/** Header naming the object store bucket when it is not LARGE_BUCKET. */
export const OBJECT_BUCKET_HEADER = "Intelmq-Object-Bucket";
/** Stream description prefix: the queue's own name follows, for listQueues. */
export const QUEUE_DESCRIPTION = "IntelMQ queue ";

const SAFE = /^[A-Za-z0-9_-]+$/;

/**
 * The token standing for a queue in stream names and subjects: the queue name itself when it is
 * made of letters, digits, "-" and "_" (IntelMQ's usual names); otherwise a sanitised form with a
 * short hash so that different names never collide.
 */
function queueToken(queue: string): string {
  if (queue.length === 0) throw new UnsupportedFeatureError("empty queue name");
  if (SAFE.test(queue) && queue.length <= 200) return queue;
  const clean = queue.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 180);
  const hash = createHash("sha256").update(queue).digest("hex").slice(0, 10);
  return `${clean}_${hash}`;
}

/** Stream name of a queue. */
export function queueStream(queue: string): string {
  return `Q_${queueToken(queue)}`;
}

/** Subject of a queue: intelmq.queue.<queue>. */
export function queueSubject(queue: string): string {
  return `intelmq.queue.${queueToken(queue)}`;
}

/** Archive subject of a queue: intelmq.archive.<queue>. */
export function archiveSubject(queue: string): string {
  return `intelmq.archive.${queueToken(queue)}`;
}

/** Subject of a bot's dumps: intelmq.dump.<bot-id>. */
export function dumpSubject(botId: string): string {
  return `intelmq.dump.${queueToken(botId)}`;
}

/** Subject of a bot's log lines: intelmq.log.<bot-id>. */
export function logSubject(botId: string): string {
  return `intelmq.log.${queueToken(botId)}`;
}

/** The oldest server we run on. */
export const MIN_SERVER_VERSION = "2.9.0";

/** [major, minor, patch] of a server version such as "2.9.10" or "v2.11.0-beta.1"; null if unreadable. */
export function parseServerVersion(v: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Negative, zero or positive as a is older than, equal to or newer than b. */
export function compareVersions(a: string, b: string): number {
  const pa = parseServerVersion(a);
  const pb = parseServerVersion(b);
  if (!pa || !pb) throw new UnsupportedFeatureError(`cannot compare server versions ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** Throw UnsupportedFeatureError unless `version` is at least `min` (default 2.9.0). */
export function checkServerVersion(version: string, min: string = MIN_SERVER_VERSION): void {
  if (!parseServerVersion(version)) {
    throw new UnsupportedFeatureError(`cannot read the NATS server version ${JSON.stringify(version)}; nats-server ${min} or later is required`);
  }
  if (compareVersions(version, min) < 0) {
    throw new UnsupportedFeatureError(`nats-server ${version} is too old: JetStream queues need nats-server ${min} or later`);
  }
}

/** True if the server is at least `min` (for optional features). */
export function serverHas(version: string, min: string): boolean {
  try { return compareVersions(version, min) >= 0; } catch { return false; }
}

/** What ghost purging needs to know of a queue's stream and consumer. */
export interface GhostCheck {
  stream: { messages: number; first_seq: number; consumer_count: number };
  consumer: { ack_floor: { stream_seq: number }; config: { filter_subject?: string; filter_subjects?: string[] } };
  /** The queue's subject: a consumer filtered to it still sees every message. */
  subject: string;
}

/**
 * The `seq` to purge a queue's stream up to (exclusive) so that messages at or below the
 * consumer's ack floor go, or null when there is nothing to purge or it would not be safe: only the
 * queue's own consumer may exist, reading every message of the stream.
 */
export function ghostPurgeSeq(c: GhostCheck): number | null {
  const floor = c.consumer.ack_floor.stream_seq;
  if (c.stream.messages === 0 || floor <= 0 || c.stream.first_seq > floor) return null;
  if (c.stream.consumer_count !== 1) return null;
  const filters = [c.consumer.config.filter_subject, ...(c.consumer.config.filter_subjects ?? [])].filter((f) => f);
  if (filters.some((f) => f !== c.subject)) return null;
  return floor + 1;
}
