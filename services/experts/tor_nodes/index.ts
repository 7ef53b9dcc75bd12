// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Tor nodes expert: sets source/destination.tor_node when the address is in a local list of Tor
 * exit nodes (IntelMQ's intelmq.bots.experts.tor_nodes.expert).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { ConfigurationError, defineBot, p } from "../../../shared/sdk/index.js";

export const params = z.object({
  database: z.string().default("var/lib/bots/tor_nodes/tor_nodes.dat").describe("File with one exit node address per line (# comments); relative to INTELMQ_ROOT_DIR"),
  overwrite: p.bool().default(false).describe("Set tor_node also where it is already set (to false)"),
  autoupdate_cached_database: p.bool().default(true).describe("Accepted for IntelMQ compatibility; the file is updated by whoever provides it"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "tor_nodes",
  intelmq: "intelmq.bots.experts.tor_nodes.expert",
  description: "Marks source/destination.tor_node when the IP address is a known Tor exit node (local list)",
  params,
  create: ({ database, overwrite }, ctx) => {
    const file = isAbsolute(database) ? database : join(ctx.rootDir, database);
    const nodes = new Set<string>();
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigurationError("database", `cannot read the Tor node list ${file}: ${(err as Error).message}`, { cause: err });
    }
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line !== "" && !line.startsWith("#")) nodes.add(line);
    }
    ctx.log.info(`Loaded ${nodes.size} Tor exit node addresses.`);
    return {
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
