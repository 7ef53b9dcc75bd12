// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Parsers (IntelMQ's ParserBot): each report split into items, each item into events that go out
 * as they are made. A failed line is dumped as a copy of the report holding only that line (and
 * sent to _on_error); a report whose parse() fails is retried whole, from where it began.
 */
import { Message, hydrateRaw, rawSource, type Report } from "../../message/index.js";
import { parseReport } from "../parser-driver.js";
import { Dumper } from "../steps/dumps.js";
import { withRetries } from "../steps/retry.js";
import type { ParserImpl } from "../types.js";
import { outputsOf, type DriverEnv, type InputDriver } from "./driver.js";

export function parserDriver(impl: ParserImpl, env: DriverEnv & { defaultFields: Record<string, unknown> | null; name: string }): InputDriver {
  return {
    async handle(job, batches) {
      for (const batch of batches) for (const { msg } of batch) {
        const report = msg as Report;
        const streamed = rawSource(report) !== undefined;
        if (!report.has("raw") && !streamed) {
          env.log.warn("Report without raw field received. Possible bug or misconfiguration in previous bots.");
          continue;
        }
        // A parse() of its own that does not read through the windows needs the raw loaded.
        if (streamed && impl.parse && !impl.streamsRaw) await hydrateRaw(report);
        const mark = job.outbox.mark();
        const step = await withRetries(job.retry, {
          run: async () => {
            const { events, failed } = await parseReport(report, impl, {
              log: env.log,
              defaultFields: env.defaultFields,
              tracebackText: (e) => env.dumper.traceback(e).join(""),
              parser: env.name,
            }, (r) => {
              const out = outputsOf(env.dest, r);
              if (out instanceof Message) return job.outbox.add("_default", out);
              return out[0] ? job.outbox.add(out[0].path, out[0].msg) : undefined;
            });
            for (const f of failed) {
              const copy = report.copy();
              // encoded here: a line such as "-" or "N/A" would be taken for "no value" and the raw dropped
              copy.change("raw", Buffer.from(f.raw, "utf8").toString("base64"), { sanitize: false });
              job.outbox.addDump(env.dumper.give(f.traceback, Dumper.text(copy), false));
              if (env.dest._on_error) await job.outbox.add("_on_error", copy);
            }
            env.log.info(`Sent ${events} events and found ${failed.length} problem(s).`);
          },
          undo: () => job.outbox.rollback(mark),
          giveUp: async (err) => {
            // The dump keeps the whole report: a streamed raw is loaded for it.
            await hydrateRaw(report);
            job.outbox.addDump(env.dumper.give(env.dumper.traceback(err), Dumper.text(report), false));
            // a publish failure it may report is kept by the outbox and thrown by finish()
            if (env.dest._on_error) job.outbox.add("_on_error", report as Message)?.catch(() => undefined);
          },
          describe: () => Dumper.text(report),
        });
        if (step !== "ok") return step;
      }
      return "ok";
    },
  };
}
