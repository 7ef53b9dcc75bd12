// SPDX-License-Identifier: AGPL-3.0-only
/** The archive in memory: a copy of what archived queues accepted, limited by age and bytes; replay. */
import { DEFAULTS, REPLAY_HEADER } from "../names.js";
import type { Archive, QueueSettings, ReplayOptions, ReplayResult } from "../types.js";
import type { MemMsg, MemQueues } from "./queues.js";
import type { MemState } from "./state.js";

export class MemArchive implements Archive {
  #archive: { seq: number; queue: string; at: number; data: Uint8Array; headers: Record<string, string> }[] = [];
  #seq = 0;
  #bytes = 0;
  #limits: { maxAgeMs: number; maxBytes: number } = { maxAgeMs: DEFAULTS.archiveMaxAgeMs, maxBytes: DEFAULTS.archiveMaxBytes };
  queues!: MemQueues;

  constructor(private readonly m: MemState) {}

  /** The archive's limits from a queue's settings. */
  limit(settings?: QueueSettings): void {
    if (settings?.archiveMaxAgeMs !== undefined) this.#limits.maxAgeMs = settings.archiveMaxAgeMs;
    if (settings?.archiveMaxBytes !== undefined) this.#limits.maxBytes = settings.archiveMaxBytes;
  }

  /** The archive stream: a copy of what archived queues accepted, limited by age and bytes. */
  add(queue: string, msg: MemMsg): void {
    const now = Date.now();
    this.#archive.push({ seq: ++this.#seq, queue, at: now, data: msg.data, headers: { ...msg.headers } });
    this.#bytes += msg.data.byteLength;
    let drop = 0;
    while (drop < this.#archive.length && (
      this.#bytes > this.#limits.maxBytes || this.#archive[drop]!.at < now - this.#limits.maxAgeMs)) {
      this.#bytes -= this.#archive[drop]!.data.byteLength;
      drop++;
    }
    if (drop > 0) this.#archive.splice(0, drop);
  }

  async replay(queue: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
    this.m.live();
    const target = opts.target ?? queue;
    const result: ReplayResult = { queue, target, replayed: 0, duplicates: 0, missing: 0, firstSeq: null, lastSeq: null };
    const since = opts.since?.getTime() ?? -Infinity;
    const until = opts.until?.getTime() ?? Infinity;
    const oldest = Date.now() - this.#limits.maxAgeMs;
    // Only what was there when the replay started: replaying into an archived queue archives again.
    const picked = this.#archive.filter((a) => a.queue === queue && a.headers[REPLAY_HEADER] === undefined && a.at >= since && a.at <= until && a.at >= oldest);
    for (const a of picked) {
      result.firstSeq ??= a.seq;
      result.lastSeq = a.seq;
      if (opts.dryRun) {
        result.replayed++;
      } else {
        const fresh = this.queues.accept(target, a.data, { msgId: `replay:${a.seq}`, headers: { ...a.headers, [REPLAY_HEADER]: String(a.seq) } });
        if (fresh) result.replayed++; else result.duplicates++;
      }
      opts.onProgress?.(result);
    }
    return result;
  }
}
