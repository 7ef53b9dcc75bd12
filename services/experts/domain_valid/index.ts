// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Domain valid expert: forwards an event only when its domain field is a syntactically valid
 * name with a top-level domain from IANA's list; others are dropped (IntelMQ's
 * intelmq.bots.experts.domain_valid.expert).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { ConfigurationError, defineBot } from "../../../shared/sdk/index.js";

// Labels of letters, digits and inner hyphens, 1-63 long, at least two of them, the last one
// alphabetic or an IDN (xn--) label: the rule of the `validators` package IntelMQ relies on.
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN = new RegExp(`^(?:${LABEL}\\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$`, "i");

/** Whether `name` is a well-formed domain under one of `tlds` (lower case). */
export function validDomain(name: string, tlds: ReadonlySet<string>): boolean {
  if (name.length > 253 || name.includes("_") || !DOMAIN.test(name)) return false;
  return tlds.has(name.slice(name.lastIndexOf(".") + 1).toLowerCase());
}

export const params = z.object({
  domain_field: z.string().default("source.fqdn").describe("The field holding the domain name"),
  tlds_domains_list: z.string().default("var/lib/bots/domain_valid/tlds-alpha-by-domain.txt")
    .describe("IANA's list of top-level domains (https://data.iana.org/TLD/tlds-alpha-by-domain.txt); relative to INTELMQ_ROOT_DIR"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "domain_valid",
  intelmq: "intelmq.bots.experts.domain_valid.expert",
  description: "Forwards only events whose domain field is a valid domain name under a known top-level domain",
  params,
  create: ({ domain_field: field, tlds_domains_list: list }, ctx) => {
    const file = isAbsolute(list) ? list : join(ctx.rootDir, list);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigurationError("tlds_domains_list", `TLD domain list file not found at ${JSON.stringify(file)}: ${(err as Error).message}`, { cause: err });
    }
    const tlds = new Set(text.split(/\r?\n/).filter((l) => !l.startsWith("#")).map((l) => l.trim().toLowerCase()).filter(Boolean));
    return {
      process(event) {
        // As IntelMQ: an event without the field is not valid either.
        if (event.has(field) && validDomain(String(event.get(field)), tlds)) return event;
        ctx.log.debug(`Filtered out event with search field ${JSON.stringify(field)}.`);
        return null;
      },
    };
  },
});
