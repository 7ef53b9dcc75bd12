// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A queue's stream and durable consumer on JetStream: created idempotently by whoever needs
 * them first, their limits kept to the configuration, acknowledged ghosts purged; and reading
 * one stored message by sequence (payloads above max_payload from the object store).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { nanos } from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType,
  type ConsumerConfig, type ConsumerInfo, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { errorMessage } from "../../errors/index.js";
import {
  archiveSubject, ghostPurgeSeq, CONSUMER_NAME, DEFAULTS, LARGE_BUCKET, OBJECT_BUCKET_HEADER, OBJECT_HEADER, QUEUE_DESCRIPTION, queueStream, queueSubject,
} from "../names.js";
import type { PeekedMessage, QueueSettings } from "../types.js";
import { isNotFound, streamDiffers, type JsConnection } from "./connection.js";

/** Make sure of a queue's stream and consumer (with explicit settings: update them); purge ghosts. */
export async function ensureQueueStream(
  c: JsConnection, queue: string, settings: QueueSettings | undefined, archiveStream: (s: QueueSettings, explicit: boolean) => Promise<void>,
): Promise<{ si: StreamInfo; ci: ConsumerInfo }> {
  const { jsm } = c;
  const explicit = settings !== undefined;
  const s = settings ?? {};
  const name = queueStream(queue);
  if (s.archive) await archiveStream(s, explicit);
  const want: Partial<StreamConfig> & { name: string } = {
    name,
    description: QUEUE_DESCRIPTION + queue,
    subjects: [queueSubject(queue)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_bytes: s.maxBytes ?? DEFAULTS.maxBytes,
    max_msgs: s.maxMsgs ?? DEFAULTS.maxMsgs,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(s.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs),
    num_replicas: s.replicas ?? DEFAULTS.replicas,
  };
  if (s.archive) want.republish = { src: queueSubject(queue), dest: archiveSubject(queue) };
  let si = await c.streamInfo(name);
  for (let attempt = 1; !si; attempt++) {
    try {
      si = await jsm.streams.add(want);
    } catch (err) {
      // Someone else created it at the same moment (possibly with other settings); its info
      // may take a moment to appear.
      si = await c.streamInfo(name);
      if (!si && attempt >= 5) throw err;
      if (!si) await sleep(50 * attempt);
    }
  }
  if (explicit && streamDiffers(si.config, want)) {
    try {
      si = await c.updateStream(si, want, false);
    } catch (err) {
      c.log.warn({ err: errorMessage(err), queue }, "cannot update the settings of the queue's stream");
    }
  }

  const cwant: Partial<ConsumerConfig> = {
    durable_name: CONSUMER_NAME,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitMs ?? DEFAULTS.ackWaitMs),
    max_ack_pending: s.maxAckPending ?? DEFAULTS.maxAckPending,
    max_deliver: -1,
  };
  let ci = await c.consumerInfo(name);
  for (let attempt = 1; !ci; attempt++) {
    try {
      ci = await jsm.consumers.add(name, cwant);
    } catch (err) {
      ci = await c.consumerInfo(name);
      if (!ci && attempt >= 5) throw err;
      if (!ci) await sleep(50 * attempt);
    }
  }
  if (explicit && (
    (s.ackWaitMs !== undefined && ci.config.ack_wait !== cwant.ack_wait) ||
    (s.maxAckPending !== undefined && ci.config.max_ack_pending !== cwant.max_ack_pending))) {
    ci = await jsm.consumers.update(name, CONSUMER_NAME, { ack_wait: cwant.ack_wait!, max_ack_pending: cwant.max_ack_pending! });
  }
  await purgeGhosts(c, queue, si, ci);
  return { si, ci };
}

/**
 * Messages at or below the consumer's ack floor count as acknowledged: in a WorkQueue stream they
 * are left-overs of a crash ("ghosts"). Whoever opens the queue purges them: purging below
 * floor+1 keeps every message above it. (A running bot looks at them one by one instead: see
 * strays() in queues.ts.)
 */
export async function purgeGhosts(c: JsConnection, queue: string, si: StreamInfo, ci: ConsumerInfo): Promise<void> {
  const seq = ghostPurgeSeq({ stream: si.state, consumer: ci, subject: queueSubject(queue) });
  if (seq === null) return;
  let r: { purged: number };
  try {
    r = await c.jsm.streams.purge(si.config.name, { seq });
  } catch (err) {
    // Only a queue's reader may purge it (nats-config's permissions); a sender leaves the ghosts to it.
    c.log.debug({ queue, err: errorMessage(err) }, "cannot purge acked ghost messages from queue");
    return;
  }
  if (r.purged > 0) c.log.info({ queue, purged: r.purged, ackFloor: seq - 1 }, "purged acked ghost messages from queue");
}

/** One stored message by sequence, its large payload resolved; null when it is not there (any more). */
export async function readStored(c: JsConnection, stream: string, seq: number): Promise<PeekedMessage | null> {
  const sm = await c.jsm.streams.getMessage(stream, { seq }).catch((err: unknown) => {
    if (isNotFound(err) || /no message found/i.test(errorMessage(err))) return null; // acked meanwhile
    throw err;
  });
  if (!sm) return null;
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
  const data = ref ? (await (await c.largeStore(bucket)).getBlob(ref)) ?? new Uint8Array(0) : sm.data;
  return { seq: sm.seq, data, headers };
}
