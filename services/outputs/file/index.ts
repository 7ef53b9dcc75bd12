// SPDX-License-Identifier: AGPL-3.0-only
/**
 * File output: appends one JSON line per event to a file (IntelMQ's intelmq.bots.outputs.file.output).
 * Lines are buffered and written, then synced to disk, in flush(), which the runtime calls before
 * it acknowledges the input: nothing is acknowledged that is not on disk, and each input's lines
 * are written once, whatever the crashes and redeliveries (shared/runtime's appendOutput).
 */
import { z } from "zod";
import { INTELMQ_ROOT, appendOutput, defineBot, encodeErrors, encodingErrorsMode, exportEventLine, exportEventText, outputParams, p, type BotContext, type OutputImpl, type Event } from "../../../shared/sdk/index.js";

export const params = z.object({
  file: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/file-output/events.txt`)
    .describe("File to append to; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  format_filename: p.bool().default(false)
    .describe("Treat `file` as a Python format string over the event, e.g. /data/{event[time.source]:%Y-%m-%d}/{event[classification.type]}.txt"),
  encoding_errors_mode: encodingErrorsMode(),
  ...outputParams,
}).strict();

export type Params = z.infer<typeof params>;

// Kept importable from here, where it first lived.
export { encodeErrors };

function create(prm: Params, ctx: BotContext): OutputImpl {
  return appendOutput(ctx, {
    file: prm.file,
    formatFilename: prm.format_filename,
    encodingErrorsMode: prm.encoding_errors_mode,
    header: () => null,
    render: (event: Event) => exportEventText(event, prm) + "\n",
    renderInto: (event, sink) => exportEventLine(event, prm, sink),
  });
}

export default defineBot({
  kind: "output",
  name: "file",
  intelmq: "intelmq.bots.outputs.file.output",
  description: "Append events as JSON lines to a file",
  params,
  create,
});
