// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's directory layout under one root: INTELMQ_ROOT_DIR, else the project's root. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root: the nearest directory above this (compiled) file holding package.json. */
export const PROJECT_ROOT: string = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, "package.json"))) return d;
    const up = dirname(d);
    if (up === d) return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
    d = up;
  }
})();

/** Where IntelMQ keeps its files (same names as IntelMQ's constants). */
export interface IntelmqPaths {
  /** INTELMQ_ROOT_DIR or the project's root. */
  readonly root: string;
  /** etc/ */
  readonly configDir: string;
  /** etc/runtime.yaml (IntelMQ's RUNTIME_CONF_FILE). */
  readonly runtimeConfFile: string;
  /** etc/harmonization.conf (HARMONIZATION_CONF_FILE). */
  readonly harmonizationConfFile: string;
  /** etc/feeds.yaml */
  readonly feedsFile: string;
  /** var/log (DEFAULT_LOGGING_PATH). */
  readonly logDir: string;
  /** var/lib/bots (VAR_STATE_PATH): one folder per bot for its state files. */
  readonly stateDir: string;
  /** var/run (VAR_RUN_PATH). */
  readonly runDir: string;
}

/** The root directory: `INTELMQ_ROOT_DIR` when set (and not empty), else the project's root. */
export function rootDir(env: NodeJS.ProcessEnv = process.env): string {
  const r = env.INTELMQ_ROOT_DIR;
  return r && r.trim() !== "" ? resolve(r) : PROJECT_ROOT;
}

/** All paths under the root of `env`. */
export function intelmqPaths(env: NodeJS.ProcessEnv = process.env): IntelmqPaths {
  const root = rootDir(env);
  const configDir = join(root, "etc");
  return {
    root,
    configDir,
    runtimeConfFile: join(configDir, "runtime.yaml"),
    harmonizationConfFile: join(configDir, "harmonization.conf"),
    feedsFile: join(configDir, "feeds.yaml"),
    logDir: join(root, "var", "log"),
    stateDir: join(root, "var", "lib", "bots"),
    runDir: join(root, "var", "run"),
  };
}

/**
 * V8 settings of a bot process: semi-spaces of 3 MiB instead of 16, and a major collection once
 * the heap grew 20 % past what the last one kept, instead of letting it double. A bot allocates
 * in bursts per envelope, most of it garbage at once: with V8's defaults a bot draining a backlog
 * peaked at 170-270 MiB, with these at 90-96 MiB. 3 MiB rather than 2 holds a chunk's events
 * while they are worked on (fewer survive a scavenge to be copied): 10-30 % less CPU per event
 * for 3-6 MiB more. Everything that starts `intelmq-bot` passes them (control service, tests,
 * containers); a bot started without them applies what V8 takes at run time (heap.ts).
 */
export const BOT_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=3", "--heap-growing-percent=20"];

/**
 * Environment defaults of a bot process, under the caller's own environment (which wins): glibc
 * keeps a malloc arena per thread by default, and a bot's few threads (V8's GC helpers, libuv)
 * each held freed buffers in their own. Two arenas took 3-6 MiB off a bot's peak, one another
 * 2-3 MiB (the deduplicator's KV creates make many small buffers); the one lock costs nothing
 * measurable with a bot's threads.
 */
export const BOT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };

/**
 * Flags of the bots of some modules over BOT_NODE_FLAGS. The deduplicator holds every hash of its
 * TTL in memory (its claim set: ~4 MiB for 200,000) and peaked at 97-102 MiB with 3 MiB
 * semi-spaces; with 2 at 91-94, for ~4 µs more CPU per event, which it can spare.
 */
export const MODULE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  "intelmq.bots.experts.deduplicator.expert": ["--max-semi-space-size=2"],
};

/** BOT_NODE_FLAGS with those of `module` in place of the same flags. */
export function botNodeFlags(module?: string): readonly string[] {
  const own = module !== undefined ? MODULE_NODE_FLAGS[module] : undefined;
  if (!own) return BOT_NODE_FLAGS;
  const name = (f: string) => f.split("=")[0];
  const mine = new Set(own.map(name));
  return [...BOT_NODE_FLAGS.filter((f) => !mine.has(name(f))), ...own];
}

/**
 * The command line of one bot process: node, its flags, bin/intelmq-bot.mjs and the bot id; and
 * the environment defaults (BOT_ENV) to put under the environment it is started with. `module`:
 * the bot's, for its module's flags (MODULE_NODE_FLAGS).
 */
export function botCommand(botId: string, extra: readonly string[] = [], module?: string): { command: string; args: string[]; env: Record<string, string> } {
  // INTELMQ_BOT_NODE_FLAGS replaces the defaults, for an operator tuning memory against speed.
  const env = process.env.INTELMQ_BOT_NODE_FLAGS;
  const flags = env !== undefined ? env.split(/\s+/).filter(Boolean) : botNodeFlags(module);
  return { command: process.execPath, args: [...flags, join(PROJECT_ROOT, "bin", "intelmq-bot.mjs"), botId, ...extra], env: { ...BOT_ENV } };
}
