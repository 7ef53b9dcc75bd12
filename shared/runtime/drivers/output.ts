// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Outputs: each event of the input exported (IntelMQ's retries per event), then flush() makes
 * what was exported durable, told which input it belongs to, so that an output can write an
 * input's bytes once whatever the redeliveries. A flush that keeps failing is retried as a
 * message is; given up on, the input's events are dumped and the output goes on with the next.
 * Inputs are exported and flushed one at a time, in order.
 */
import type { Event } from "../../message/index.js";
import { Dumper } from "../steps/dumps.js";
import { withRetries, type Step } from "../steps/retry.js";
import type { OutputImpl } from "../types.js";
import type { DriverEnv, InputDriver } from "./driver.js";

export function outputDriver(impl: OutputImpl, env: DriverEnv): InputDriver {
  let lock: Promise<unknown> = Promise.resolve();
  const handle: InputDriver["handle"] = async (job, batches) => {
    // Only the count and the indexes of the events not exported are kept, not the events: a
    // flush given up on dumps the input's events read from the input again (batches can be
    // iterated again), and the events of a chunk die young meanwhile.
    let exported = 0;
    const dumped = new Set<number>();
    for (const batch of batches) for (const { msg, index } of batch) {
      // Most exports are synchronous and succeed: no promise and no retry closures for them.
      let failedFirst: { err: unknown } | undefined;
      try {
        const r = impl.export(msg as Event);
        if (r !== undefined) await r;
        job.retry.stats.success();
        exported++;
        continue;
      } catch (err) {
        failedFirst = { err };
      }
      let ok = false;
      const step = await withRetries(job.retry, {
        failedFirst,
        run: async () => { await impl.export(msg as Event); ok = true; },
        giveUp: (err) => job.outbox.addDump(env.dumper.give(env.dumper.traceback(err), Dumper.text(msg), false)),
        describe: () => Dumper.text(msg),
      });
      if (step !== "ok") return step;
      if (ok) exported++;
      else dumped.add(index);
    }
    if (!impl.flush || exported === 0) return "ok";
    const flush = impl.flush.bind(impl);
    return withRetries(job.retry, {
      run: () => Promise.resolve(flush(job.input)),
      giveUp: (err) => {
        impl.discard?.();
        env.log.error(`Giving up on writing ${exported} event(s); they are dumped.`);
        const tb = env.dumper.traceback(err);
        for (const batch of batches) {
          for (const { msg, index } of batch) if (!dumped.has(index)) job.outbox.addDump(env.dumper.give(tb, Dumper.text(msg), false));
        }
      },
      describe: () => `${exported} event(s) of ${job.input.key}`,
      counted: false,
    });
  };
  return {
    handle(job, batches): Promise<Step> {
      const run = lock.then(() => handle(job, batches));
      lock = run.catch(() => undefined);
      return run;
    },
  };
}
