// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's `--update-database` of experts with local databases: `intelmq-bot <bot-id> --update-database`
 * and `intelmqctl update-database <bot-id|module>`. Downloads each bot's database from the URL its
 * parameters name, verifies it by parsing it, and replaces the file atomically; running bots see the
 * new file and reload it. Works without NATS.
 */
import { effectiveParams, loadRuntimeConfig, rootDir, type RuntimeConfig } from "../shared/config/index.js";
import { errorMessage } from "../shared/errors/index.js";
import { databasePath, resolveParams, updateDatabase, type BotDefinition } from "../shared/runtime/index.js";
import { hasModule, loadModule } from "./registry.js";

export interface UpdateOutput {
  info(line: string): void;
  error(line: string): void;
}

interface Target { botId: string; def: BotDefinition; params: unknown }

/** The bots `target` names: a bot id, or every bot of a module (IntelMQ updates per module). */
async function targets(config: RuntimeConfig, target: string, out: UpdateOutput): Promise<Target[] | null> {
  const ids = Object.hasOwn(config.bots, target) ? [target] : Object.keys(config.bots).filter((id) => config.bots[id]!.module === target);
  if (ids.length === 0) {
    out.error(hasModule(target) ? `Database update skipped. No bots of module ${target} in the runtime configuration.` : `No bot and no module ${JSON.stringify(target)} in the runtime configuration.`);
    return hasModule(target) ? [] : null;
  }
  const list: Target[] = [];
  for (const botId of ids) {
    const def = await loadModule(config.bots[botId]!.module);
    if (!def.database) {
      out.error(`Bot ${botId} (${config.bots[botId]!.module}) has no database to update.`);
      return null;
    }
    list.push({ botId, def, params: resolveParams(def, botId, effectiveParams(config, botId)).bot });
  }
  return list;
}

/** Run the update; the exit code (0: updated or nothing to do, 1: failed). */
export async function runUpdateDatabase(target: string, opts: { configFile?: string; verbose?: boolean; out: UpdateOutput }): Promise<number> {
  const { out } = opts;
  let list: Target[] | null;
  try {
    list = await targets(loadRuntimeConfig(opts.configFile), target, out);
  } catch (err) {
    out.error(`Database update failed: ${errorMessage(err)}`);
    return 1;
  }
  if (list === null) return 1;
  const root = rootDir();
  const done = new Map<string, string>();
  let failed = 0;
  for (const { botId, def, params } of list) {
    const spec = def.database!;
    if (spec.enabled && !spec.enabled(params as never)) {
      if (opts.verbose) out.info(`Database update of ${botId} skipped: autoupdate_cached_database is false.`);
      continue;
    }
    const file = databasePath(spec.file(params as never), root);
    // Bots sharing a file share its download.
    if (done.has(file)) {
      if (opts.verbose) out.info(`${botId}: ${file} was updated above.`);
      continue;
    }
    try {
      if (opts.verbose) out.info(`Downloading the latest database for ${botId}...`);
      const r = await updateDatabase(spec, params as never, root);
      done.set(file, botId);
      out.info(`Database of ${botId} updated: ${r.file} (${r.summary}, ${r.bytes} bytes). Running instances reload it.`);
    } catch (err) {
      failed++;
      out.error(`Database update of ${botId} failed: ${errorMessage(err)}`);
    }
  }
  return failed ? 1 : 0;
}
