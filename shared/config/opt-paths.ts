// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's runtime.yaml names files under /opt/intelmq, IntelMQ's installation root. The
 * output bots that write files take such a path under INTELMQ_ROOT_DIR instead (the project's
 * root by default), so that IntelMQ's file runs unchanged; this module says which paths that
 * concerns, so that the tools can tell the operator where the files really are.
 */
import { join } from "node:path";
import { rootDir } from "./paths.js";
import { effectiveParams, type RuntimeConfig } from "./runtime-config.js";

/** IntelMQ's installation root. */
export const INTELMQ_OPT_ROOT = "/opt/intelmq";

/** The path under `root` that `path` stands for when it lies under /opt/intelmq; null otherwise. */
export function optPathUnderRoot(path: string, root: string): string | null {
  if (path !== INTELMQ_OPT_ROOT && !path.startsWith(`${INTELMQ_OPT_ROOT}/`)) return null;
  return join(root, path.slice(INTELMQ_OPT_ROOT.length));
}

/**
 * The parameters (with their defaults) that bots read as paths and take under INTELMQ_ROOT_DIR
 * when they start with /opt/intelmq, by IntelMQ module (the file-writing outputs and the sieve
 * expert's rules; see outputPath() in shared/runtime). A test keeps this table in step with the bots' schemas.
 * when they start with /opt/intelmq, by IntelMQ module (the file-writing outputs and the experts
 * with a local database; see outputPath() in shared/runtime). A test keeps this table in step with the bots' schemas.
 */
export const OPT_PATH_PARAMETERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "intelmq.bots.outputs.file.output": { file: `${INTELMQ_OPT_ROOT}/var/lib/bots/file-output/events.txt` },
  "intelmq.bots.outputs.files.output": {
    dir: `${INTELMQ_OPT_ROOT}/var/lib/bots/files-output/incoming`,
    tmp: `${INTELMQ_OPT_ROOT}/var/lib/bots/files-output/tmp`,
  },
  "intelmq.bots.outputs.rpz_file.output": { file: `${INTELMQ_OPT_ROOT}/var/lib/bots/file-output/rpz` },
  "intelmq.bots.outputs.bro_file.output": { file: `${INTELMQ_OPT_ROOT}/var/lib/bots/file-output/bro` },
  // read, not written: the sieve expert's rules
  "intelmq.bots.experts.sieve.expert": { file: `${INTELMQ_OPT_ROOT}/var/lib/bots/sieve/filter.sieve` },
  // experts reading a local database (databasePath() in shared/runtime)
  "intelmq.bots.experts.maxmind_geoip.expert": { database: `${INTELMQ_OPT_ROOT}/var/lib/bots/maxmind_geoip/GeoLite2-City.mmdb` },
  "intelmq.bots.experts.recordedfuture_iprisk.expert": { database: `${INTELMQ_OPT_ROOT}/var/lib/bots/recordedfuture_iprisk/rfiprisk.dat` },
  "intelmq.bots.outputs.misp.output_feed": { output_dir: `${INTELMQ_OPT_ROOT}/var/lib/bots/mispfeed-output` },
};

/** A path of runtime.yaml that a bot takes under INTELMQ_ROOT_DIR instead of /opt/intelmq. */
export interface RemappedPath {
  botId: string;
  parameter: string;
  /** As configured (or the bot's default). */
  configured: string;
  /** Where the bot reads or writes it. */
  path: string;
  /** The bot's default, not written in runtime.yaml. */
  isDefault: boolean;
}

/**
 * Every path of the configuration's bots that lies under /opt/intelmq and is taken under the
 * root (INTELMQ_ROOT_DIR of `env`, else the project's root) instead, with effective parameters
 * (global, parameters, INTELMQ_* of `env`) and the bots' defaults.
 */
export function remappedPaths(config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): RemappedPath[] {
  const root = rootDir(env);
  const out: RemappedPath[] = [];
  for (const [botId, bot] of Object.entries(config.bots)) {
    const table = OPT_PATH_PARAMETERS[bot.module];
    if (!table) continue;
    const params = effectiveParams(config, botId, env);
    for (const [parameter, dflt] of Object.entries(table)) {
      const given = params[parameter];
      const configured = typeof given === "string" ? given : given === undefined || given === null ? dflt : null;
      if (configured === null) continue;
      const path = optPathUnderRoot(configured, root);
      if (path !== null) out.push({ botId, parameter, configured, path, isDefault: typeof given !== "string" });
    }
  }
  return out;
}

/**
 * What to tell an operator about remappedPaths(): one line per path, e.g.
 * `file-output: file /opt/intelmq/var/lib/bots/file-output/events.txt is written at /srv/x/var/lib/bots/file-output/events.txt`.
 * Empty when nothing is remapped.
 */
export function remappedPathLines(config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  return remappedPaths(config, env).map((r) =>
    `${r.botId}: ${r.parameter} ${r.configured}${r.isDefault ? " (its default)" : ""} is ${r.path}`);
}
