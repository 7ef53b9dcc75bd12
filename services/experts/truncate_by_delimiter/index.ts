// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Truncate-by-delimiter expert: while a field is longer than max_length and holds the
 * delimiter, cut it after the first delimiter (IntelMQ's
 * intelmq.bots.experts.truncate_by_delimiter.expert), e.g. to shorten very long FQDNs.
 */
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

export const params = z.object({
  delimiter: z.string().min(1, "must not be empty").default(".").describe("Cut after the first occurrence of this text"),
  max_length: p.int().default(200).describe("Cut until the value is at most this long (in characters)"),
  field: z.string().default("source.fqdn").describe("The field to shorten"),
}).strict();

/** Length in characters (code points), as Python counts it. */
const length = (s: string) => { let n = 0; for (const _ of s) n++; return n; };

/** The value cut after its first delimiter until short enough or no delimiter is left. */
export function truncateByDelimiter(value: string, delimiter: string, maxLength: number): string {
  let v = value;
  for (let at = v.indexOf(delimiter); at >= 0 && length(v) > maxLength; at = v.indexOf(delimiter)) v = v.slice(at + delimiter.length);
  return v;
}

export default defineBot({
  kind: "expert",
  name: "truncate_by_delimiter",
  intelmq: "intelmq.bots.experts.truncate_by_delimiter.expert",
  description: "Shortens a field (source.fqdn by default) by cutting it after its first delimiter until it is at most max_length long",
  params,
  create: ({ delimiter, max_length: maxLength, field }) => ({
    process(event) {
      if (event.has(field)) event.change(field, truncateByDelimiter(String(event.get(field)), delimiter, maxLength));
      return event;
    },
  }),
});
