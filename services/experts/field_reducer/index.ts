// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Field reducer expert: keeps only the listed fields (whitelist) or removes them (blacklist)
 * (IntelMQ's intelmq.bots.experts.field_reducer.expert).
 */
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

export const params = z.object({
  type: z.enum(["whitelist", "blacklist"], { error: "must be whitelist or blacklist" }).describe("whitelist: keep only the keys; blacklist: remove them"),
  keys: p.list().describe("The fields, as a list or comma-separated"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "field_reducer",
  intelmq: "intelmq.bots.experts.field_reducer.expert",
  description: "Keeps only the listed fields of each event (whitelist) or removes them (blacklist)",
  params,
  create: ({ type, keys }) => {
    const listed = new Set(keys.map((k) => k.trim()));
    return {
      process(event) {
        for (const key of [...event.keys()]) {
          if (listed.has(key) !== (type === "whitelist")) event.delete(key);
        }
        return event;
      },
    };
  },
});
