// SPDX-License-Identifier: AGPL-3.0-only
/**
 * POST /runtime: the Manager sends the whole runtime configuration as JSON. It is written only
 * when it passes what loading runtime.yaml and `intelmqctl check` refuse (structure, bot ids,
 * global settings, every bot's module and its parameters against the bot's schema); the previous
 * file is kept as runtime.yaml.bak.
 */
import {
  effectiveParams, globalSettings, runtimeConfigFromObject, saveRuntimeConfig, type RuntimeConfig,
} from "../../shared/config/index.js";
import { errorMessage } from "../../shared/errors/index.js";
import { resolveParams } from "../../shared/runtime/index.js";
import { hasModule, loadModule } from "../../cli/registry.js";

/** Why the configuration is refused (one line per problem); [] when it is acceptable. */
export async function runtimeProblems(body: unknown, file: string): Promise<string[]> {
  if (!body || typeof body !== "object" || Array.isArray(body)) return ["the runtime configuration must be a JSON object of bot ids (and global)"];
  let config: RuntimeConfig;
  try {
    config = runtimeConfigFromObject(body, file);
  } catch (err) {
    return [errorMessage(err)];
  }
  const problems: string[] = [];
  try {
    globalSettings(config.global);
  } catch (err) {
    problems.push(`global: ${errorMessage(err)}`);
  }
  for (const [id, bot] of Object.entries(config.bots)) {
    if (!hasModule(bot.module)) {
      problems.push(`Bot ${JSON.stringify(id)}: module ${JSON.stringify(bot.module)} is not installed (no bot of this installation implements it).`);
      continue;
    }
    try {
      // The file's values only: the API's own environment must not decide what is valid.
      resolveParams(await loadModule(bot.module), id, effectiveParams(config, id, {}));
    } catch (err) {
      problems.push(`Bot ${JSON.stringify(id)}: invalid parameters: ${errorMessage(err)}`);
    }
  }
  return problems;
}

/** Validate and write; returns the problems (nothing written) or [] after writing. */
export async function writeRuntime(body: unknown, file: string): Promise<string[]> {
  const problems = await runtimeProblems(body, file);
  if (problems.length) return problems;
  saveRuntimeConfig(runtimeConfigFromObject(body, file), file);
  return [];
}
