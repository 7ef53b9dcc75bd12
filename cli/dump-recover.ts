// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Recovering a dump entry: its message goes back into its source queue (or another configured
 * source queue) and the entry is deleted. intelmqdump and the API's monitor routes share this.
 */
import type { Broker, StoredDump } from "../shared/broker/index.js";
import type { RuntimeConfig } from "../shared/config/index.js";
import { encodeEnvelope, messageFromDict } from "../shared/message/index.js";
import { groupOf, queuesOf } from "./ctl-config.js";

/** The last traceback line (IntelMQ shows it in the list), cut for one screen line. */
export function lastLine(d: StoredDump): string {
  const lines = (Array.isArray(d.traceback) ? d.traceback : String(d.traceback).split("\n")).map((l) => l.trim()).filter(Boolean);
  const l = lines[lines.length - 1] ?? "";
  return l.length > 200 ? `${l.slice(0, 197)}...` : l;
}

/** The source queues of runtime.yaml, with the group of the bot reading each. */
export function sourceQueues(config: RuntimeConfig): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const id of Object.keys(config.bots)) {
    const q = queuesOf(config, id).source;
    if (q) out.set(q, groupOf(config.bots[id]!));
  }
  return out;
}

/** The bytes to publish for an entry into `queue`: an Event bound for a parser becomes a Report. */
export function dumpPayload(d: StoredDump, group: string | null): Uint8Array {
  if (d.message_type === "base64") return new Uint8Array(Buffer.from(d.message, "base64"));
  const dict = JSON.parse(d.message) as Record<string, unknown>;
  if (group === "Parser" && dict.__type === "Event") {
    // As IntelMQ's Report made from an Event: the fields a report may hold (feed.*, raw, ...).
    const report = messageFromDict({ __type: "Report" });
    for (const [k, v] of Object.entries(dict)) {
      if (k === "__type") continue;
      try { report.add(k, v, { raiseFailure: false }); } catch { /* not a report field */ }
    }
    return encodeEnvelope([report]);
  }
  // Validated again, so that what goes back into a queue is a message the bots accept.
  return encodeEnvelope([messageFromDict(dict)]);
}

/**
 * What became of an entry: recovered into `queue`, or not because of the queue (none stored,
 * or not a configured source queue) or of the message (the bots would refuse it).
 */
export type RecoverOutcome =
  | { recovered: true; queue: string }
  | { recovered: false; why: "queue" | "message"; message: string };

/**
 * Publish the entry's message into `queue` (default: its source queue), then delete the entry.
 * `sources` may be given when recovering several entries at once.
 */
export async function recoverDump(broker: Broker, config: RuntimeConfig, d: StoredDump, queue?: string, sources = sourceQueues(config)): Promise<RecoverOutcome> {
  const target = queue ?? d.source_queue ?? "";
  if (!sources.has(target)) {
    return { recovered: false, why: "queue", message: target ? `'${target}' is not the source queue of a configured bot` : "no source queue stored, name one" };
  }
  let data: Uint8Array;
  try {
    data = dumpPayload(d, sources.get(target) ?? null);
  } catch (err) {
    return { recovered: false, why: "message", message: (err as Error).message };
  }
  // The entry's sequence as the message id: recovering it twice within the window adds it once.
  await broker.queues.publish(target, data, { msgId: `dump:${d.seq}` });
  await broker.dumps.delete(d.seq);
  return { recovered: true, queue: target };
}
