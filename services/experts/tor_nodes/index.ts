// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Tor nodes expert: sets source/destination.tor_node when the address is in a local list of Tor
 * exit nodes (IntelMQ's intelmq.bots.experts.tor_nodes.expert).
 */
import { z } from "zod";
import { databasePath, defineBot, p, parseIp, readDatabase, watchDatabase, databaseCheck, databaseCommands, type DatabaseSpec } from "../../../shared/sdk/index.js";

export const params = z.object({
  database: z.string().default("var/lib/bots/tor_nodes/tor_nodes.dat").describe("File with one exit node address per line (# comments); relative to INTELMQ_ROOT_DIR"),
  overwrite: p.bool().default(false).describe("Set tor_node also where it is already set (to false)"),
  autoupdate_cached_database: p.bool().default(true).describe("Whether --update-database updates this bot's file"),
  database_url: z.string().default("https://check.torproject.org/torbulkexitlist").describe("Ours: where --update-database downloads the list"),
}).strict();

type Params = z.infer<typeof params>;

/** The addresses of the list; a line that is no address throws (a broken download is not installed). */
function parseList(text: string): Set<string> {
  const nodes = new Set<string>();
  let n = 0;
  for (const raw of text.split(/\r?\n/)) {
    n++;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!parseIp(line)) throw new Error(`line ${n} is no IP address: ${JSON.stringify(line.slice(0, 80))}`);
    nodes.add(line);
  }
  return nodes;
}

/** The local database: --update-database and intelmqctl check (see databaseCommands in the SDK). */
export const database: DatabaseSpec<Params> = {
  file: (prm: Params) => prm.database,
  enabled: (prm: Params) => prm.autoupdate_cached_database,
  source: (prm: Params) => ({ url: prm.database_url }),
  verify: (data) => `${parseList(data.toString("utf8")).size} addresses`,
};

export default defineBot({
  kind: "expert",
  name: "tor_nodes",
  intelmq: "intelmq.bots.experts.tor_nodes.expert",
  description: "Marks source/destination.tor_node when the IP address is a known Tor exit node (local list)",
  params,
  commands: databaseCommands(database),
  check: databaseCheck(database),
  create: ({ database, overwrite }, ctx) => {
    const file = databasePath(database, ctx.rootDir);
    const load = () => {
      const set = parseList(readDatabase(file, "Tor node list").toString("utf8"));
      ctx.log.info(`Loaded ${set.size} Tor exit node addresses.`);
      return set;
    };
    let nodes = load();
    const unwatch = watchDatabase(file, () => { nodes = load(); }, ctx.log);
    return {
      shutdown: unwatch,
      process(event) {
        for (const key of ["source.", "destination."]) {
          const ip = event.get(`${key}ip`);
          if (ip === undefined || !nodes.has(String(ip))) continue;
          if (!event.has(`${key}tor_node`)) event.add(`${key}tor_node`, true);
          else if (overwrite) event.change(`${key}tor_node`, true);
        }
        return event;
      },
    };
  },
});
