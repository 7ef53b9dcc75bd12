// SPDX-License-Identifier: AGPL-3.0-only
/**
 * BOT_NODE_FLAGS for a bot process started without them (by hand, by a tool of its own). Node
 * takes no heap settings from a running program and allows only some in NODE_OPTIONS; V8 reads
 * two of them while it runs: the heap's growing percent is set as it is, and the young
 * generation, whose largest size cannot be set, is held at it by the factor it grows by: it
 * grows to the size BOT_NODE_FLAGS give and no further, and back to it after V8 shrank it.
 * Imports nothing heavy: bin/intelmq-bot.mjs calls it before the bot's modules load (loading
 * them alone would grow the young generation to 8 MiB semi-spaces).
 */
import { readFileSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { BOT_NODE_FLAGS, botNodeFlags, intelmqPaths } from "./paths.js";

const MIB = 1024 * 1024;

/** What the process was started with: its own flags and NODE_OPTIONS. */
function startedWith(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean)];
}

/** Whether a flag is among them, either spelling (V8 takes `_` for `-`; these take a value after `=`). */
function has(flags: readonly string[], name: string): boolean {
  return flags.some((x) => x.replaceAll("_", "-").startsWith(`${name}=`));
}

function flagValue(flags: readonly string[], name: string): number | null {
  const f = flags.find((x) => x.startsWith(`${name}=`));
  const v = f === undefined ? NaN : Number(f.slice(name.length + 1));
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** What holdBotHeap() applied in this process (for the bot's log, once it has one). */
const heldSettings: string[] = [];
export function heapSettingsHeld(): readonly string[] {
  return heldSettings;
}

/** The young generation's size now: two semi-spaces, in MiB. */
function youngMiB(): number {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === "new_space");
  return s ? s.space_size / MIB : 0;
}

/**
 * Apply what of BOT_NODE_FLAGS the process was not started with and V8 takes at run time; what
 * was applied, for the bot's log. Nothing when INTELMQ_BOT_NODE_FLAGS is set (the operator's
 * own choice, which the tools that start bots pass) or everything was given.
 */
export function holdBotHeap(flags: readonly string[] = BOT_NODE_FLAGS, given: readonly string[] = startedWith()): string[] {
  if (process.env.INTELMQ_BOT_NODE_FLAGS !== undefined || heldSettings.length > 0) return [...heldSettings];
  const growing = flagValue(flags, "--heap-growing-percent");
  if (growing !== null && !has(given, "--heap-growing-percent")) {
    setFlagsFromString(`--heap-growing-percent=${growing}`);
    heldSettings.push(`--heap-growing-percent=${growing}`);
  }
  const semi = flagValue(flags, "--max-semi-space-size");
  if (semi !== null && !has(given, "--max-semi-space-size") && !has(given, "--semi-space-growth-factor")) {
    const target = 2 * semi;
    // The factor for the next growth: to the target at once, never past it (1: no growth).
    let set = 0;
    const steer = (): void => {
      const now = youngMiB();
      const factor = now > 0 && now < target ? Math.max(1, Math.floor(target / now)) : 1;
      if (factor === set) return;
      setFlagsFromString(`--semi-space-growth-factor=${factor}`);
      set = factor;
    };
    steer();
    // Each collection may have grown or shrunk it: the observer runs after it, with the event loop.
    new PerformanceObserver(steer).observe({ entryTypes: ["gc"] });
    heldSettings.push(`young generation held at ${semi} MiB semi-spaces`);
  }
  return [...heldSettings];
}

/**
 * holdBotHeap() with the flags of the bot's module (MODULE_NODE_FLAGS: the deduplicator's smaller
 * semi-spaces), the module read from runtime.yaml's text before the rest of the bot loads; the
 * common flags where it is not found. A bot started by hand otherwise held 3 MiB semi-spaces
 * where the launcher gives the deduplicator 2 (97-102 against 91-94 MiB at its peak).
 */
export function holdBotHeapFor(botId: string | undefined): string[] {
  let module: string | undefined;
  try {
    if (botId) module = botModuleOf(readFileSync(intelmqPaths().runtimeConfFile, "utf8"), botId);
  } catch {
    // no runtime.yaml to read: the bot itself will say so
  }
  return holdBotHeap(botNodeFlags(module));
}

/**
 * The `module:` of a bot in runtime.yaml's text: the bot's key at the start of a line, then the
 * first `module:` at the indentation of its first entry, before the next key at the start of a
 * line. Without the YAML parser (loading it would grow the young generation first); undefined
 * where the text is not so plain, and the bot then has the common flags.
 */
export function botModuleOf(text: string, botId: string): string | undefined {
  const lines = text.split(/\r?\n/);
  const quoted = regexText(botId);
  const head = new RegExp(`^(?:${quoted}|'${quoted}'|"${quoted}")\\s*:\\s*(?:#.*)?$`);
  const start = lines.findIndex((l) => head.test(l));
  if (start < 0) return undefined;
  let indent: string | null = null;
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(?:#.*)?$/.test(line)) continue;
    const lead = /^\s*/.exec(line)![0];
    if (lead === "") return undefined;
    indent ??= lead;
    if (lead !== indent) continue;
    const m = /^\s*module\s*:\s*(?:'([^']*)'|"([^"]*)"|([^\s#'"][^\s#]*))\s*(?:#.*)?$/.exec(line);
    if (m) return m[1] ?? m[2] ?? m[3];
  }
  return undefined;
}

/** `s` matched literally in a regular expression. */
function regexText(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
