// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Experts: each event of the input through process(), with IntelMQ's retries per event. The
 * events of one envelope are worked on concurrently (a deduplicator waits on its cache for each);
 * their outputs go out in input order, so a redelivery produces the same envelopes.
 */
import { errorMessage } from "../../errors/index.js";
import type { Event, Message } from "../../message/index.js";
import { normaliseEmit } from "../parser-driver.js";
import { Dumper } from "../steps/dumps.js";
import { checkRoutes } from "../steps/outbox.js";
import { withRetries, type Step } from "../steps/retry.js";
import type { EventMeta, ExpertImpl, Routed } from "../types.js";
import { worst, type DriverEnv, type InputDriver, type InputJob } from "./driver.js";

/**
 * Lookups in flight at once per input: enough to keep a cache or a server busy, few enough that
 * an envelope of a thousand events does not hold a thousand requests and their buffers.
 */
export const EXPERT_CONCURRENCY = 128;

/** An event's meta, its origin made only when the bot reads it: most experts never do. */
class LazyMeta implements EventMeta {
  #origin: string | undefined;
  constructor(private readonly job: InputJob, private readonly index: number) {}
  get origin(): string {
    return (this.#origin ??= this.job.origin(this.index));
  }
  get redelivered(): boolean {
    return this.job.redelivered;
  }
}

export function expertDriver(impl: ExpertImpl, env: DriverEnv): InputDriver {
  const one = async (job: InputJob, msg: Message, index: number, failedFirst?: { err: unknown }): Promise<{ step: Step; routed: Routed[] }> => {
    let routed: Routed[] = [];
    const meta = new LazyMeta(job, index);
    const step = await withRetries(job.retry, {
      failedFirst,
      run: async () => { routed = checkRoutes(env.dest, normaliseEmit(await impl.process(msg as Event, meta))); },
      giveUp: (err) => {
        job.outbox.addDump(env.dumper.give(env.dumper.traceback(err), Dumper.text(msg), false));
        routed = env.dest._on_error ? [{ path: "_on_error", msg }] : [];
      },
      describe: () => Dumper.text(msg),
    });
    return { step, routed };
  };
  /**
   * Most events go through process() at once, without awaiting: only an event whose process()
   * returns a promise (a lookup) or throws (its retries) takes the slow path. The results keep
   * input order either way.
   */
  const fast = (job: InputJob, msg: Message, index: number): Routed[] | Promise<{ step: Step; routed: Routed[] }> => {
    let got: unknown;
    try {
      got = impl.process(msg as Event, new LazyMeta(job, index));
      if (got && typeof (got as { then?: unknown }).then === "function") {
        return (got as Promise<unknown>).then((v) => {
          const routed = checkRoutes(env.dest, normaliseEmit(v));
          job.retry.stats.success();
          return { step: "ok" as Step, routed };
        }).catch((err: unknown) => one(job, msg, index, { err }));
      }
      const routed = checkRoutes(env.dest, normaliseEmit(got));
      job.retry.stats.success();
      return routed;
    } catch (err) {
      // the first try failed: the retries (and their counting, logging and dump) go on from here
      return one(job, msg, index, { err });
    }
  };
  /**
   * The batch through processBatch(): its outputs, or null when it failed (the events then go
   * through process() one by one, where a failure is retried, counted and dumped as IntelMQ does).
   */
  const whole = async (job: InputJob, messages: readonly { msg: Message; index: number }[]): Promise<Routed[][] | null> => {
    const events = messages.map((m) => m.msg as Event);
    const metas = messages.map((m) => new LazyMeta(job, m.index));
    try {
      const emits = await impl.processBatch!(events, metas);
      if (emits.length !== events.length) throw new Error(`processBatch returned ${emits.length} results for ${events.length} events`);
      const routed = emits.map((e) => checkRoutes(env.dest, normaliseEmit(e)));
      for (let i = 0; i < routed.length; i++) job.retry.stats.success();
      return routed;
    } catch (err) {
      env.log.debug({ err: errorMessage(err), events: events.length }, "batch failed, its events go one by one");
      return null;
    }
  };
  /** One batch: through process(), then its outputs in input order; "ok" unless a message stopped or the bot halted. */
  const batch = async (job: InputJob, messages: readonly { msg: Message; index: number }[]): Promise<Step> => {
    const together = impl.processBatch && messages.length > 0 ? await whole(job, messages) : null;
    if (together) {
      for (const routed of together) {
        for (const x of routed) {
          const w = job.outbox.add(x.path, x.msg);
          if (w) await w;
        }
      }
      return "ok";
    }
    const results: (Routed[] | { step: Step; routed: Routed[] })[] = new Array(messages.length);
    let pending: Promise<void>[] | null = null;
    for (let i = 0; i < messages.length; i++) {
      const r = fast(job, messages[i]!.msg, messages[i]!.index);
      if (Array.isArray(r)) results[i] = r;
      else {
        (pending ??= []).push(r.then((x) => { results[i] = x; }));
        if (pending.length >= EXPERT_CONCURRENCY) {
          await Promise.all(pending);
          pending = null;
        }
      }
    }
    if (pending) await Promise.all(pending);
    const step = worst(results.map((r) => (Array.isArray(r) ? "ok" : r.step)));
    if (step !== "ok") return step;
    for (const r of results) {
      for (const x of Array.isArray(r) ? r : r.routed) {
        const w = job.outbox.add(x.path, x.msg);
        if (w) await w;
      }
    }
    return "ok";
  };
  return {
    async handle(job, batches) {
      // A batch's outputs are in the outbox before the next batch is decoded; they go out only
      // when the input is done (or when batch_size of them filled an envelope).
      for (const b of batches) {
        const step = await batch(job, b);
        if (step !== "ok") return step;
      }
      return "ok";
    },
  };
}
