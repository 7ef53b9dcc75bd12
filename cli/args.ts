// SPDX-License-Identifier: AGPL-3.0-only
/** Command-line parsing shared by the command-line programs. */
import type { Command } from "commander";

/**
 * Parse `argv` with a program built with exitOverride(): null when the program should run,
 * else the exit code commander chose (0 after --help, 2 for a usage error without one).
 */
export function parseArgs(program: Command, argv: string[]): number | null {
  try {
    program.parse(argv);
    return null;
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return typeof code === "number" ? code : 2;
  }
}

const AGE_UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/**
 * A point in time for replay: ISO 8601 (UTC when no zone is given, as IntelMQ's times) or an age
 * such as 90s, 30m, 2h, 1d, 1w.
 */
export function parseWhen(text: string, now = Date.now()): Date | null {
  const t = text.trim();
  const age = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(t);
  if (age) {
    return new Date(now - Number(age[1]) * AGE_UNITS[age[2]!.toLowerCase()]!);
  }
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(t) ? `${t.replace(" ", "T")}${t.length > 10 ? "Z" : "T00:00:00Z"}` : t;
  const ms = Date.parse(iso);
  return !/^\d{4}-/.test(t) || Number.isNaN(ms) ? null : new Date(ms);
}

/** "0,2-4 7" -> [0, 2, 3, 4, 7]; null when malformed. */
export function parseIds(text: string): number[] | null {
  const out: number[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) return null;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out.length ? [...new Set(out)] : null;
}
