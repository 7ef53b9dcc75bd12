// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Remove-affix expert: removes a prefix (default "www.") or a suffix from a field (IntelMQ's
 * intelmq.bots.experts.remove_affix.expert).
 */
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

export const params = z.object({
  remove_prefix: p.bool().default(true).describe("true: remove the affix from the start, false: from the end"),
  affix: z.string().default("www.").describe("The text to remove"),
  field: z.string().default("source.fqdn").describe("The field to change"),
}).strict();

export function removeAffix(value: string, affix: string, prefix: boolean): string {
  if (prefix) return value.startsWith(affix) ? value.slice(affix.length) : value;
  return affix !== "" && value.endsWith(affix) ? value.slice(0, value.length - affix.length) : value;
}

export default defineBot({
  kind: "expert",
  name: "remove_affix",
  intelmq: "intelmq.bots.experts.remove_affix.expert",
  description: "Removes a prefix (default www.) or a suffix from a field (default source.fqdn)",
  params,
  create: ({ remove_prefix: prefix, affix, field }) => ({
    process(event) {
      if (event.has(field)) event.change(field, removeAffix(String(event.get(field)), affix, prefix));
      return event;
    },
  }),
});
