// SPDX-License-Identifier: AGPL-3.0-only
/** Looking up bots by IntelMQ module name, for the command-line programs. */
import { ConfigurationError } from "../shared/errors/index.js";
import type { BotDefinition } from "../shared/runtime/index.js";
import { registry } from "../services/registry.gen.js";

const loaded = new Map<string, Promise<BotDefinition>>();

/** True if we implement this IntelMQ module. */
export function hasModule(module: string): boolean {
  return Object.hasOwn(registry, module);
}

/** All IntelMQ module names we implement. */
export function knownModules(): string[] {
  return Object.keys(registry).sort();
}

/** The bot implementing an IntelMQ module (loaded once); ConfigurationError for an unknown module. */
export function loadModule(module: string): Promise<BotDefinition> {
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
