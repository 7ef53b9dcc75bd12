// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Replaying an archived queue: the checks and the outcome of `intelmqctl replay`, shared with the
 * API's monitor route.
 */
import type { Broker, ReplayOptions, ReplayResult } from "../shared/broker/index.js";
import { queueSettingsFor, type RuntimeConfig } from "../shared/config/index.js";
import { configuredQueues } from "./ctl-config.js";

/** The times --since and --until take (parseWhen of args.ts). */
export const REPLAY_TIME_HELP = "ISO 8601 such as 2024-09-16T10:00:00Z, or an age such as 30m, 2h, 1d";

/** What a replay came to: done, or refused because a queue is unknown or the queue is not archived. */
export type ReplayOutcome =
  | { kind: "done"; result: ReplayResult }
  | { kind: "not-found"; queue: string; message: string }
  | { kind: "not-archived"; message: string };

/**
 * Replay `queue` into `opts.target` (default itself). Both must be queues of runtime.yaml; a
 * queue without archive gives "not-archived" with the reason (never "0 messages").
 */
export async function replayQueue(broker: Broker, config: RuntimeConfig, queue: string, opts: ReplayOptions = {}): Promise<ReplayOutcome> {
  const target = opts.target ?? queue;
  const queues = configuredQueues(config);
  for (const q of new Set([queue, target])) {
    if (!queues.has(q)) return { kind: "not-found", queue: q, message: `Queue ${q} does not exist!` };
  }
  const r = await broker.archive.replay(queue, { ...opts, target });
  if (r.firstSeq === null && !(await broker.queues.info(queue)).archived) {
    const should = queueSettingsFor(config, queue).archive === true;
    return {
      kind: "not-archived",
      message: should
        ? `Queue ${queue} is not archived: its stream was created before archiving was configured (see intelmqctl check); nothing to replay.`
        : `Queue ${queue} is not archived, nothing to replay: the archive keeps the queues collectors feed, or every queue with queue_archive: true under global in runtime.yaml.`,
    };
  }
  return { kind: "done", result: r };
}
