// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Domain suffix expert: source/destination.domain_suffix from source/destination.fqdn (or
 * .reverse_dns) with the Public Suffix List, ICANN section only (IntelMQ's
 * intelmq.bots.experts.domain_suffix.expert).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigurationError, defineBot, p } from "../../../shared/sdk/index.js";
import { PublicSuffixList } from "./psl.js";

export const params = z.object({
  field: z.enum(["fqdn", "reverse_dns"], { error: "must be fqdn or reverse_dns" }).describe("Which name to look at: fqdn or reverse_dns"),
  suffix_file: z.string({ error: "is required: the path of a Public Suffix List file" }).min(1).describe("The Public Suffix List (public_suffix_list.dat), e.g. /usr/share/publicsuffix/public_suffix_list.dat"),
  autoupdate_cached_database: p.bool().default(true).describe("Accepted for IntelMQ compatibility; the file is updated by whoever provides it"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "domain_suffix",
  intelmq: "intelmq.bots.experts.domain_suffix.expert",
  description: "Sets source/destination.domain_suffix to the public suffix of source/destination.fqdn or .reverse_dns (Public Suffix List, ICANN section)",
  params,
  create: ({ field, suffix_file: file }) => {
    let psl: PublicSuffixList;
    try {
      psl = new PublicSuffixList(readFileSync(file, "utf8"), true);
    } catch (err) {
      throw new ConfigurationError("suffix_file", `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (psl.size === 0) throw new ConfigurationError("suffix_file", `${file} holds no suffix rules`);
    return {
      process(event) {
        for (const space of ["source", "destination"] as const) {
          const name = event.get(`${space}.${field}`);
          if (name === undefined || name === null) continue;
          const suffix = psl.publicSuffix(String(name));
          if (suffix !== null) event.add(`${space}.domain_suffix`, suffix, { overwrite: true });
        }
        return event;
      },
    };
  },
});
