// SPDX-License-Identifier: AGPL-3.0-only
/**
 * ASN lookup expert (IntelMQ's intelmq.bots.experts.asn_lookup.expert): source/destination.asn and
 * .network from a local pyasn IPASN file (longest-prefix match). Reloads the file when it is replaced.
 */
import { z } from "zod";
import { ConfigurationError, databasePath, defineBot, p, readDatabase, watchDatabase, databaseCheck, databaseCommands, type DatabaseSpec } from "../../../shared/sdk/index.js";
import { IpAsnDb } from "./ipasn.js";

export const params = z.object({
  database: z.string().nullable().default(null).describe("The pyasn IPASN data file (\"<prefix>\\t<asn>\" lines); relative to INTELMQ_ROOT_DIR"),
  database_url: z.string().nullable().default(null)
    .describe("Ours: where --update-database downloads the IPASN file (plain or gzip, e.g. made by pyasn_util_convert.py from a RouteViews RIB dump)"),
  autoupdate_cached_database: p.bool().default(true).describe("Whether --update-database updates this bot's file"),
}).strict();

type Params = z.infer<typeof params>;

/** The local database: --update-database and intelmqctl check (see databaseCommands in the SDK). */
export const database: DatabaseSpec<Params> = {
  file: (prm: Params) => prm.database ?? "",
  enabled: (prm: Params) => prm.autoupdate_cached_database,
  source: (prm: Params) => (prm.database === null ? "the parameter database is not set"
    : prm.database_url !== null ? { url: prm.database_url } : "the parameter database_url is not set: it names where the IPASN file is downloaded from"),
  verify: (data) => `${IpAsnDb.parse(data.toString("utf8")).size} prefixes`,
};

export default defineBot({
  kind: "expert",
  name: "asn_lookup",
  intelmq: "intelmq.bots.experts.asn_lookup.expert",
  description: "Adds source/destination.asn and .network from a local pyasn IPASN file (BGP routing table dump)",
  params,
  commands: databaseCommands(database),
  check: databaseCheck(database),
  create: (prm, ctx) => {
    if (prm.database === null) throw new ConfigurationError("database", "the IPASN data file must be given");
    const file = databasePath(prm.database, ctx.rootDir);
    const load = () => {
      const db = IpAsnDb.parse(readDatabase(file, "IPASN data file").toString("utf8"));
      ctx.log.info(`Loaded ${db.size} prefixes from ${file}.`);
      return db;
    };
    let db = load();
    const unwatch = watchDatabase(file, () => { db = load(); }, ctx.log);
    return {
      process(event) {
        for (const key of ["source.", "destination."]) {
          const ip = event.get(`${key}ip`);
          if (ip === undefined) continue;
          const m = db.lookup(String(ip));
          if (!m) continue;
          event.add(`${key}asn`, m.asn, { overwrite: true });
          event.add(`${key}network`, m.network, { overwrite: true });
        }
        return event;
      },
      shutdown: unwatch,
    };
  },
});
