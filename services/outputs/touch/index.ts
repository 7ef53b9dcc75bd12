// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Touch output: sets the access and modification times of a file to now for every event
 * (IntelMQ's intelmq.bots.outputs.touch.output), e.g. as a heartbeat for monitoring.
 */
import { utimesSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { defineBot } from "../../../shared/sdk/index.js";

export const params = z.object({
  path: z.string({ error: "is required: the file to touch" }).min(1).describe("The file whose times are set (it must exist); relative to INTELMQ_ROOT_DIR"),
}).strict();

export default defineBot({
  kind: "output",
  name: "touch",
  intelmq: "intelmq.bots.outputs.touch.output",
  description: "Sets the times of a file to now for every event",
  params,
  create: ({ path }, ctx) => {
    const file = isAbsolute(path) ? path : join(ctx.rootDir, path);
    return {
      export(): void {
        // Per event, as IntelMQ: a missing file fails that event (retries, then the dump).
        const now = new Date();
        utimesSync(file, now, now);
      },
    };
  },
});
