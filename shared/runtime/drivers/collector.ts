// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Collectors: rounds of collect(), each report filled with the feed parameters and published
 * with an id of the bot, the report's hash and the round (a repeated round within the duplicate
 * window adds nothing; the same content again within a round is numbered, so it is another report).
 * commit() runs only once every report of the round was confirmed: a collector never marks an item
 * fetched before its report is safely queued.
 */
import { createHash } from "node:crypto";
import { encodeEnvelope, type Report } from "../../message/index.js";
import { PipelineError } from "../../errors/index.js";
import type { FeedParams } from "../runtime-params.js";
import { logProblem, type Step } from "../steps/retry.js";
import type { OutputInfo } from "../steps/outbox.js";
import type { Sender } from "../steps/sender.js";
import type { Stats } from "../steps/stats.js";
import type { Collected, CollectorImpl, RuntimeParams } from "../types.js";
import { ErrorCode, hasCode } from "../../errors/index.js";
import type { Logger } from "pino";
import type { Waker } from "../util.js";

export interface CollectorEnv {
  readonly botId: string;
  readonly runtime: RuntimeParams;
  readonly dest: Readonly<Record<string, string[]>>;
  readonly feed: FeedParams;
  readonly log: Logger;
  readonly stats: Stats;
  readonly sender: Sender;
  readonly waker: Waker;
  /** Reports awaiting confirmation at most. */
  readonly window: number;
  halted(): boolean;
  /** Where confirmed reports are told (library mode), if anywhere. */
  tap(): ((o: OutputInfo) => void) | null;
}

export class CollectorRounds {
  #round = 0;
  /** Pushed reports are numbered within this process's life, which the start time names. */
  readonly #life = Date.now().toString(36);
  #pushed = 0;
  #abort: AbortController | null = null;

  /** The bot stops: a streaming collect() ends its iteration. */
  abort(): void {
    this.#abort?.abort();
  }

  constructor(private readonly impl: CollectorImpl, private readonly env: CollectorEnv) {}

  /** One collection round with IntelMQ's retries: "stop" on a configuration error or error_procedure stop. */
  async round(): Promise<Step> {
    const round = this.#round++;
    const { runtime: rt, stats } = this.env;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        await this.#once(round);
        stats.success();
        return "ok";
      } catch (err) {
        failure = err;
      }
      if (this.env.halted()) return "aborted";
      stats.failure();
      logProblem(this.env, failure);
      if (hasCode(failure, ErrorCode.ConfigurationError)) return "stop";
      if (attempt >= rt.error_max_retries) return rt.error_procedure === "stop" ? "stop" : "ok";
      const wait = rt.testing ? 0 : rt.error_retry_delay;
      this.env.log.info(`Bot will continue in ${wait} seconds.`);
      if (!(await this.env.waker.sleep(wait * 1000)) || this.env.halted()) return "aborted";
    }
  }

  async #once(round: number): Promise<void> {
    const { impl, env } = this;
    const abort = (this.#abort = new AbortController());
    if (env.halted()) abort.abort();
    const got = await impl.collect(abort.signal);
    if (!got) {
      if (impl.commit) await impl.commit();
      return;
    }
    const pending = new Set<Promise<void>>();
    const sameRaw = new Map<string, number>();
    let failed: { err: unknown } | undefined;
    let k = 0;
    try {
      for await (const report of got as AsyncIterable<Collected> | Iterable<Collected>) {
        if (!report) { env.log.warn("Ignoring empty message at sending. Possible bug in bot."); continue; }
        // An Event (from a bridge) goes on as it came: it has its feed.* and needs no raw.
        const isEvent = report.kind === "Event";
        if (!isEvent && !report.has("raw")) {
          env.log.warn("Ignoring report without raw field. Possible bug or misconfiguration of this bot.");
          continue;
        }
        const queues = env.dest._default;
        if (!queues) throw new PipelineError('destination path "_default" is not configured in destination_queues');
        const feed = env.feed;
        if (!isEvent) {
          if (feed.name) report.add("feed.name", feed.name, { overwrite: false });
          if (feed.code) report.add("feed.code", feed.code, { overwrite: false });
          if (feed.documentation) report.add("feed.documentation", feed.documentation, { overwrite: false });
          if (feed.provider) report.add("feed.provider", feed.provider, { overwrite: false });
          if (feed.accuracy) report.add("feed.accuracy", feed.accuracy, { overwrite: false });
        }
        env.stats.sent("_default");
        const own = impl.messageId?.(report);
        const hash = own === undefined ? createHash("sha256").update(String(report.get("raw"))).digest("hex") : "";
        // Two reports of one round with the same raw (two tickets with the same attachment) are two
        // reports: the repeats are numbered, so the broker's duplicate window keeps them apart.
        const seen = own === undefined ? (sameRaw.get(hash) ?? 0) : 0;
        if (own === undefined) sameRaw.set(hash, seen + 1);
        const msgId = own !== undefined ? `${env.botId}:${own}` : impl.streaming ? `${env.botId}:${hash}:${this.#life}.${this.#pushed++}` : `${env.botId}:${hash}:${round}${seen ? `.${seen}` : ""}`;
        const bytes = encodeEnvelope([report]);
        const targets = env.runtime.load_balance ? [queues[k % queues.length]!] : queues;
        k++;
        const tap = env.tap();
        const tapped = tap ? report.serialize() : null;
        const p = Promise.all(targets.map((q) => env.sender.publish(q, bytes, msgId))).then(() => {
          if (tap && tapped) tap({ path: "_default", queues: targets, messages: [tapped] });
          impl.queued?.(report as Report);
        }, (err: unknown) => {
          impl.failed?.(report as Report, err);
          throw err;
        });
        pending.add(p);
        // a publish that failed and left the set before the end still fails the round (no commit)
        void p.finally(() => pending.delete(p)).catch((err: unknown) => { failed ??= { err }; });
        while (pending.size >= env.window) await Promise.race(pending);
      }
    } finally {
      // A round that fails midway still waits for what it sent: the collector learns which reports
      // were stored (queued/failed) before its next round, which must not send them again.
      for (const r of await Promise.allSettled([...pending])) if (r.status === "rejected") failed ??= { err: r.reason };
    }
    if (failed) throw failed.err;
    // Only now is every report of the round stored by the broker.
    if (impl.commit) await impl.commit();
  }
}
