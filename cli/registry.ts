// SPDX-License-Identifier: AGPL-3.0-only
/** Looking up bots by IntelMQ module name, for the command-line programs. */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigurationError, errorMessage } from "../shared/errors/index.js";
import { BotKind, defaultRootDir, type BotDefinition } from "../shared/runtime/index.js";
import { registry } from "../services/registry.gen.js";

const loaded = new Map<string, Promise<BotDefinition>>();

/**
 * An operator's own bot: `module` is the path of a JavaScript module (absolute, or relative to
 * INTELMQ_ROOT_DIR) whose default export is a defineBot() definition, as IntelMQ takes any
 * importable Python module.
 */
function customPath(module: string): string | null {
  if (!/\.(mjs|cjs|js)$/.test(module) && !module.startsWith("/") && !module.startsWith("./") && !module.startsWith("../")) return null;
  return isAbsolute(module) ? module : join(defaultRootDir(), module);
}

/** True if we implement this IntelMQ module, or it names a bot module file that exists. */
export function hasModule(module: string): boolean {
  if (Object.hasOwn(registry, module)) return true;
  const path = customPath(module);
  return path !== null && existsSync(path);
}

async function loadCustom(module: string, path: string): Promise<BotDefinition> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(path).href) as { default?: unknown };
  } catch (err) {
    throw new ConfigurationError("module", `cannot load the bot module ${JSON.stringify(module)}: ${errorMessage(err)}`);
  }
  const def = mod.default as Partial<BotDefinition> | undefined;
  if (!def || typeof def.create !== "function" || !Object.hasOwn(BotKind, String(def.kind)) || typeof (def.params as { safeParse?: unknown })?.safeParse !== "function") {
    throw new ConfigurationError("module", `${JSON.stringify(module)} does not export a bot (its default export must be a defineBot() definition)`);
  }
  return def as BotDefinition;
}

/** All IntelMQ module names we implement. */
export function knownModules(): string[] {
  return Object.keys(registry).sort();
}

/** The bot implementing an IntelMQ module (loaded once); ConfigurationError for an unknown module. */
export function loadModule(module: string): Promise<BotDefinition> {
  const custom = Object.hasOwn(registry, module) ? null : customPath(module);
  if (custom !== null && existsSync(custom)) {
    let p = loaded.get(module);
    if (!p) loaded.set(module, (p = loadCustom(module, custom)));
    return p;
  }
  if (!hasModule(module)) {
    return Promise.reject(new ConfigurationError("module", `unknown module ${JSON.stringify(module)}: no bot implements it (known: ${knownModules().length} modules, see services/registry.gen.ts)`));
  }
  let p = loaded.get(module);
  if (!p) {
    p = registry[module]!();
    loaded.set(module, p);
  }
  return p;
}
