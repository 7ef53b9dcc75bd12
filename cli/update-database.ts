// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl update-database <bot-id|module>`: the `update-database` command of one bot, or of
 * every bot of a module (IntelMQ's `<module> --update-database` updates all bots of the module).
 * Experts with a local database declare it (databaseCommands in the SDK): download from the URL
 * their parameters name, verify by parsing, replace the file atomically; running bots reload it.
 * Works without NATS.
 */
import { join } from "node:path";
import { pino } from "pino";
import { effectiveParams, loadRuntimeConfig, rootDir } from "../shared/config/index.js";
import { errorMessage } from "../shared/errors/index.js";
import { resolveParams } from "../shared/runtime/index.js";
import { hasModule, loadModule } from "./registry.js";

export interface UpdateOutput {
  info(line: string): void;
  error(line: string): void;
}

const COMMAND = "update-database";

/** Run the command for `target`; the exit code (0: updated or nothing to do, 1: something failed). */
export async function runUpdateDatabase(target: string, opts: { configFile?: string; verbose?: boolean; out: UpdateOutput }): Promise<number> {
  const { out } = opts;
  let failed = 0;
  try {
    const config = loadRuntimeConfig(opts.configFile);
    const ids = Object.hasOwn(config.bots, target) ? [target] : Object.keys(config.bots).filter((id) => config.bots[id]!.module === target);
    if (ids.length === 0) {
      if (!hasModule(target)) {
        out.error(`No bot and no module ${JSON.stringify(target)} in the runtime configuration.`);
        return 1;
      }
      out.info(`Database update skipped. No bots of module ${target} in the runtime configuration.`);
      return 0;
    }
    const root = rootDir();
    for (const botId of ids) {
      const module = config.bots[botId]!.module;
      const def = await loadModule(module);
      const command = def.commands?.[COMMAND];
      if (!command) {
        out.error(`Bot ${botId} (${module}) has no database to update.`);
        failed++;
        continue;
      }
      // The command's log as lines: its result and problems always, its progress with --verbose.
      const log = pino({ level: opts.verbose ? "debug" : "info", base: undefined, timestamp: false }, {
        write(line: string) {
          const o = JSON.parse(line) as { level: number; msg?: string };
          (o.level >= 50 ? out.error : out.info)(`${botId}: ${o.msg ?? ""}`);
        },
      });
      const { bot } = resolveParams(def, botId, effectiveParams(config, botId));
      if ((await command.run(bot, { botId, log, rootDir: root, stateDir: join(root, "var", "lib", "bots", botId) })) !== 0) failed++;
    }
  } catch (err) {
    out.error(`Database update failed: ${errorMessage(err)}`);
    return 1;
  }
  return failed ? 1 : 0;
}
