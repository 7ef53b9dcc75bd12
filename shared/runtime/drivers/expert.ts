// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Experts: each event of the input through process(), with IntelMQ's retries per event. The
 * events of one envelope are worked on concurrently (a deduplicator waits on its cache for each);
 * their outputs go out in input order, so a redelivery produces the same envelopes.
 */
import { errorMessage } from "../../errors/index.js";
import { Message, type Event } from "../../message/index.js";
import { normaliseEmit } from "../parser-driver.js";
import { Dumper } from "../steps/dumps.js";
import { checkRoutes } from "../steps/outbox.js";
import { withRetries, type Step } from "../steps/retry.js";
import type { EventMeta, ExpertImpl, Routed } from "../types.js";
import { outputsOf, worst, type DriverEnv, type InputDriver, type InputJob } from "./driver.js";

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
  type Out = Message | Routed[];
  /** Into the outbox; a promise only when the outbox asks to wait (an envelope went out). */
  const send = (job: InputJob, out: Out, from = 0): Promise<void> | void => {
    if (out instanceof Message) return job.outbox.add("_default", out);
    for (let i = from; i < out.length; i++) {
      const w = job.outbox.add(out[i]!.path, out[i]!.msg);
      if (w) return w.then(() => send(job, out, i + 1));
    }
  };
  /**
   * Most events go through process() at once, without awaiting: only an event whose process()
   * returns a promise (a lookup) or throws (its retries) takes the slow path. The results keep
   * input order either way.
   */
  const fast = (job: InputJob, msg: Message, index: number): Out | Promise<{ step: Step; routed: Routed[] }> => {
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
      const out = outputsOf(env.dest, got);
      job.retry.stats.success();
      return out;
    } catch (err) {
      // the first try failed: the retries (and their counting, logging and dump) go on from here
      return one(job, msg, index, { err });
    }
  };
  /**
   * The batch through processBatch(): its outputs, or null when it failed (the events then go
   * through process() one by one, where a failure is retried, counted and dumped as IntelMQ does).
   */
  const whole = async (job: InputJob, messages: readonly { msg: Message; index: number }[]): Promise<(Out | null)[] | null> => {
    const events = messages.map((m) => m.msg as Event);
    const metas = messages.map((m) => new LazyMeta(job, m.index));
    try {
      const emits = await impl.processBatch!(events, metas);
      if (emits.length !== events.length) throw new Error(`processBatch returned ${emits.length} results for ${events.length} events`);
      return emits.map((e) => (e === null ? null : outputsOf(env.dest, e)));
    } catch (err) {
      env.log.debug({ err: errorMessage(err), events: events.length }, "batch failed, its events go one by one");
      return null;
    }
  };
  /**
   * One batch: through processBatch() (begun by the caller: `started`) or process(), then its
   * outputs in input order; "ok" unless a message stopped or the bot halted.
   */
  const batch = async (job: InputJob, messages: readonly { msg: Message; index: number }[], started: Promise<(Out | null)[] | null> | null): Promise<Step> => {
    const together = started ? await started : null;
    if (together) {
      for (let i = 0; i < together.length; i++) job.retry.stats.success();
      for (const out of together) {
        const w = out === null ? undefined : send(job, out);
        if (w) await w;
      }
      return "ok";
    }
    const results: (Out | { step: Step; routed: Routed[] })[] = new Array(messages.length);
    let pending: Promise<void>[] | null = null;
    let step: Step = "ok";
    for (let i = 0; i < messages.length; i++) {
      const r = fast(job, messages[i]!.msg, messages[i]!.index);
      if (r instanceof Message || Array.isArray(r)) results[i] = r;
      else {
        (pending ??= []).push(r.then((x) => { results[i] = x; }));
        if (pending.length >= EXPERT_CONCURRENCY) {
          await Promise.all(pending);
          pending = null;
        }
      }
    }
    if (pending) await Promise.all(pending);
    for (const r of results) if (!(r instanceof Message) && !Array.isArray(r)) step = worst([step, r.step]);
    if (step !== "ok") return step;
    for (const r of results) {
      const w = send(job, r instanceof Message || Array.isArray(r) ? r : r.routed);
      if (w) await w;
    }
    return "ok";
  };
  return {
    async handle(job, batches) {
      // A batch's outputs are in the outbox before the batch after the next is decoded; they go
      // out only when the input is done (or when batch_size of them filled an envelope).
      if (!impl.processBatch) {
        for (const b of batches) {
          const step = await batch(job, b, null);
          if (step !== "ok") return step;
        }
        return "ok";
      }
      // processBatch: a batch at a time, its answers awaited before the next is decoded (a
      // deduplicator's cache round trip): fewer events live at once, fewer copied by the collector.
      for (const b of batches) {
        const step = await batch(job, b, b.length > 0 ? whole(job, b) : null);
        if (step !== "ok") return step;
      }
      return "ok";
    },
  };
}
