// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The archive stream (limits retention: max_age, max_bytes, discard old), filled by the server:
 * an archived queue's stream republishes what it accepts to intelmq.archive.<queue>. replay()
 * reads it with an ordered consumer from a start time up to the last sequence taken beforehand,
 * and publishes into a queue with fresh ids (`replay:<seq>`).
 */
import { nanos } from "@nats-io/transport-node";
import { DeliverPolicy, DiscardPolicy, type JsMsg, type StreamInfo } from "@nats-io/jetstream";
import { ARCHIVE_STREAM, archiveSubject, DEFAULTS, LARGE_BUCKET, OBJECT_BUCKET_HEADER, OBJECT_HEADER, REPLAY_HEADER } from "../names.js";
import type { Archive, QueueSettings, ReplayOptions, ReplayResult } from "../types.js";
import { isNotFound, type JsConnection } from "./connection.js";
import type { JsQueues } from "./queues.js";

export class JsArchive implements Archive {
  #ready: Promise<void> | null = null;
  queues!: JsQueues;

  constructor(private readonly c: JsConnection) {}

  /** Create the archive stream if missing (with explicit settings: update its limits). */
  ensureStream(s: QueueSettings, explicit: boolean): Promise<void> {
    if (!this.#ready || explicit) {
      const p = this.c.limitsStream({
        name: ARCHIVE_STREAM,
        description: "IntelMQ archive of queues (replay)",
        subjects: ["intelmq.archive.>"],
        max_age: nanos(s.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs),
        max_bytes: s.archiveMaxBytes ?? DEFAULTS.archiveMaxBytes,
        discard: DiscardPolicy.Old,
        num_replicas: s.replicas ?? DEFAULTS.replicas,
      }, explicit && (s.archiveMaxAgeMs !== undefined || s.archiveMaxBytes !== undefined));
      this.#ready = p;
      p.catch(() => { if (this.#ready === p) this.#ready = null; });
    }
    return this.#ready;
  }

  async replay(queue: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
    this.c.live(`replay ${queue}`);
    const subject = archiveSubject(queue);
    const target = opts.target ?? queue;
    const result: ReplayResult = { queue, target, replayed: 0, duplicates: 0, missing: 0, firstSeq: null, lastSeq: null };
    let si: StreamInfo;
    try {
      si = await this.c.jsm.streams.info(ARCHIVE_STREAM, { subjects_filter: subject });
    } catch (err) {
      if (isNotFound(err)) return result;
      throw this.c.wrap(`replay ${queue}`, err);
    }
    if ((si.state.subjects?.[subject] ?? 0) === 0) return result;
    // Replaying into an archived queue archives again: stop at what was there when we started.
    const upTo = si.state.last_seq;
    const untilMs = opts.until ? opts.until.getTime() : Infinity;
    if (!opts.dryRun) await this.queues.ensureOnce(target);
    const inFlight: Promise<void>[] = [];
    const flush = async () => {
      const batch = inFlight.splice(0);
      const settled = await Promise.allSettled(batch);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw this.c.wrap(`replay ${queue} into ${target}`, failed.reason);
    };
    try {
      const oc = await this.c.js.consumers.get(ARCHIVE_STREAM, {
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
            opts.onProgress?.(result);
          } else if (m.headers?.has(OBJECT_HEADER)) {
            // Storing a large payload takes longer than a plain publish: keep the order.
            await flush();
            await this.#replayOne(m, target, result, opts.onProgress);
          } else {
            inFlight.push(this.#replayOne(m, target, result, opts.onProgress));
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
      throw this.c.wrap(`replay ${queue}`, err);
    }
    return result;
  }

  async #replayOne(m: JsMsg, target: string, result: ReplayResult, onProgress: ReplayOptions["onProgress"]): Promise<void> {
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
      const blob = await (await this.c.largeStore(bucket)).getBlob(ref).catch(() => null);
      if (!blob) {
        result.missing++;
        onProgress?.(result);
        this.c.log.warn({ seq: m.seq, object: ref, bucket }, "replay: the large payload of an archived message is gone; skipped");
        return;
      }
      data = blob;
    }
    headers[REPLAY_HEADER] = String(m.seq);
    const ack = await this.queues.send(target, data, { msgId: `replay:${m.seq}`, headers });
    if (ack.duplicate) result.duplicates++;
    else result.replayed++;
    onProgress?.(result);
  }
}
