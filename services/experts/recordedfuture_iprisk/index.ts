// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Recorded Future IP risk expert (IntelMQ's intelmq.bots.experts.recordedfuture_iprisk.expert):
 * extra.rf_iprisk.source/destination from a local copy of Recorded Future's IP risk list (0 for
 * addresses not in it). Reloads the file when it is replaced.
 */
import { z } from "zod";
import { databasePath, defineBot, p, readDatabase, watchDatabase, databaseCheck, databaseCommands, type DatabaseSpec } from "../../../shared/sdk/index.js";
import { parseRiskList } from "./risklist.js";

export const params = z.object({
  database: z.string().default("/opt/intelmq/var/lib/bots/recordedfuture_iprisk/rfiprisk.dat")
    .describe("The risk list (CSV with Name and Risk columns); /opt/intelmq/... and relative paths are taken under INTELMQ_ROOT_DIR"),
  api_token: p.secret(z.string()).default("<insert Recorded Future IPRisk API token>").describe("Recorded Future API token, for --update-database"),
  overwrite: p.bool().default(false).describe("Replace an extra.rf_iprisk value the event already has"),
  autoupdate_cached_database: p.bool().default(true).describe("Whether --update-database updates this bot's file"),
  database_url: z.string().default("https://api.recordedfuture.com/v2/ip/risklist?format=csv%2Fsplunk&gzip=true&list=large")
    .describe("Ours: where --update-database downloads the list (sent with the X-RFToken header; plain, gzip or a tar.gz holding rfiprisk.dat)"),
}).strict();

type Params = z.infer<typeof params>;

/** The local database: --update-database and intelmqctl check (see databaseCommands in the SDK). */
export const database: DatabaseSpec<Params> = {
  file: (prm: Params) => prm.database,
  enabled: (prm: Params) => prm.autoupdate_cached_database,
  source: (prm: Params) => ({ url: prm.database_url, headers: { "X-RFToken": prm.api_token }, member: "rfiprisk.dat" }),
  verify: (data) => `${parseRiskList(data.toString("utf8")).size} addresses`,
};

export default defineBot({
  kind: "expert",
  name: "recordedfuture_iprisk",
  intelmq: "intelmq.bots.experts.recordedfuture_iprisk.expert",
  description: "Adds extra.rf_iprisk.source/destination: the risk score of the IP address in a local copy of Recorded Future's IP risk list",
  params,
  commands: databaseCommands(database),
  check: databaseCheck(database),
  create: (prm, ctx) => {
    const file = databasePath(prm.database, ctx.rootDir);
    const load = () => {
      ctx.log.info("Loading recorded future risk list.");
      return parseRiskList(readDatabase(file, "Recorded Future risk list").toString("utf8"));
    };
    let db = load();
    const unwatch = watchDatabase(file, () => { db = load(); }, ctx.log);
    return {
      process(event) {
        for (const key of ["source", "destination"]) {
          const ip = event.get(`${key}.ip`);
          if (ip === undefined) continue;
          const field = `extra.rf_iprisk.${key}`;
          if (!event.has(field)) event.add(field, db.get(String(ip)) ?? 0);
          else if (prm.overwrite) event.change(field, db.get(String(ip)) ?? 0);
        }
        return event;
      },
      shutdown: unwatch,
    };
  },
});
