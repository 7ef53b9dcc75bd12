// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Experts: each event of the input through process(), with IntelMQ's retries per event. The
 * events of one envelope are worked on concurrently (a deduplicator waits on its cache for each);
 * their outputs go out in input order, so a redelivery produces the same envelopes.
 */
import type { Event, Message } from "../../message/index.js";
import { normaliseEmit } from "../parser-driver.js";
import { Dumper } from "../steps/dumps.js";
import { checkRoutes } from "../steps/outbox.js";
import { withRetries, type Step } from "../steps/retry.js";
import type { ExpertImpl, Routed } from "../types.js";
import { worst, type DriverEnv, type InputDriver, type InputJob } from "./driver.js";

export function expertDriver(impl: ExpertImpl, env: DriverEnv): InputDriver {
  const one = async (job: InputJob, msg: Message, index: number): Promise<{ step: Step; routed: Routed[] }> => {
    let routed: Routed[] = [];
    const meta = { origin: job.origin(index), redelivered: job.redelivered };
    const step = await withRetries(job.retry, {
      run: async () => { routed = checkRoutes(env.dest, normaliseEmit(await impl.process(msg as Event, meta))); },
      giveUp: (err) => {
        job.outbox.addDump(env.dumper.give(env.dumper.traceback(err), Dumper.text(msg), false));
        routed = env.dest._on_error ? [{ path: "_on_error", msg }] : [];
      },
      describe: () => Dumper.text(msg),
    });
    return { step, routed };
  };
  return {
    async handle(job, messages) {
      const results = messages.length === 1
        ? [await one(job, messages[0]!.msg, messages[0]!.index)]
        : await Promise.all(messages.map((m) => one(job, m.msg, m.index)));
      const step = worst(results.map((r) => r.step));
      if (step !== "ok") return step;
      for (const r of results) {
        for (const x of r.routed) {
          const w = job.outbox.add(x.path, x.msg);
          if (w) await w;
        }
      }
      return "ok";
    },
  };
}
