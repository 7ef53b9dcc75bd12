// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Domain suffix expert: source/destination.domain_suffix from source/destination.fqdn (or
 * .reverse_dns) with the Public Suffix List, ICANN section only (IntelMQ's
 * intelmq.bots.experts.domain_suffix.expert).
 */
import { z } from "zod";
import { ConfigurationError, databasePath, defineBot, errorMessage, p, readDatabase, watchDatabase, databaseCheck, databaseCommands, type DatabaseSpec } from "../../../shared/sdk/index.js";
import { PublicSuffixList } from "./psl.js";

export const params = z.object({
  field: z.enum(["fqdn", "reverse_dns"], { error: "must be fqdn or reverse_dns" }).describe("Which name to look at: fqdn or reverse_dns"),
  suffix_file: z.string({ error: "is required: the path of a Public Suffix List file" }).min(1).describe("The Public Suffix List (public_suffix_list.dat), e.g. /usr/share/publicsuffix/public_suffix_list.dat"),
  autoupdate_cached_database: p.bool().default(true).describe("Whether --update-database updates this bot's file"),
  database_url: z.string().default("https://publicsuffix.org/list/public_suffix_list.dat").describe("Ours: where --update-database downloads the list"),
}).strict();

type Params = z.infer<typeof params>;

function parseList(text: string): PublicSuffixList {
  const psl = new PublicSuffixList(text, true);
  if (psl.size === 0) throw new Error("no suffix rules (ICANN section) in the list");
  return psl;
}

/** The local database: --update-database and intelmqctl check (see databaseCommands in the SDK). */
export const database: DatabaseSpec<Params> = {
  file: (prm: Params) => prm.suffix_file,
  enabled: (prm: Params) => prm.autoupdate_cached_database,
  source: (prm: Params) => ({ url: prm.database_url }),
  verify: (data) => {
    const text = data.toString("utf8");
    // what publicsuffix.org serves has its sections marked; an error page has not
    if (!text.includes("===BEGIN ICANN DOMAINS===")) throw new Error("no suffix rules: the list has no ICANN DOMAINS section");
    return `${parseList(text).size} rules`;
  },
};

export default defineBot({
  kind: "expert",
  name: "domain_suffix",
  intelmq: "intelmq.bots.experts.domain_suffix.expert",
  description: "Sets source/destination.domain_suffix to the public suffix of source/destination.fqdn or .reverse_dns (Public Suffix List, ICANN section)",
  params,
  commands: databaseCommands(database),
  check: databaseCheck(database),
  create: ({ field, suffix_file }, ctx) => {
    const file = databasePath(suffix_file, ctx.rootDir);
    const load = () => {
      let text: string;
      try {
        text = readDatabase(file, "Public Suffix List").toString("utf8");
      } catch (err) {
        throw new ConfigurationError("suffix_file", `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
      }
      try {
        return parseList(text);
      } catch (err) {
        throw new ConfigurationError("suffix_file", `${file}: ${errorMessage(err)}`, { cause: err });
      }
    };
    let psl = load();
    const unwatch = watchDatabase(file, () => { psl = load(); }, ctx.log);
    return {
      shutdown: unwatch,
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
