// SPDX-License-Identifier: AGPL-3.0-only
/** Blackhole output: takes events and discards them (IntelMQ's intelmq.bots.outputs.blackhole.output). */
import { z } from "zod";
import { defineBot } from "../../../shared/sdk/index.js";

export const params = z.object({}).strict();

export default defineBot({
  kind: "output",
  name: "blackhole",
  intelmq: "intelmq.bots.outputs.blackhole.output",
  description: "Discards every event (the end of a branch that only counts, or a test sink)",
  params,
  create: () => ({
    export(): void {
      // Nothing to keep: the runtime acknowledges and counts.
    },
  }),
});
