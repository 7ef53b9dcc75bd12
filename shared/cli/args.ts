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
