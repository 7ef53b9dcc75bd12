// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What the command-line programs show an operator: a closed stdout ends the program quietly
 * (`intelmqctl status | head -1`), a failure is one line naming the reason (its stack only when
 * asked for), and the bots' pino lines are printed as IntelMQ prints log lines on a terminal.
 */
import type { DestinationStream } from "pino";

/** The reason of an error in one line: `InvalidValue: invalid value ...`. */
function reasonLine(err: unknown): string {
  if (err instanceof Error) return `${err.name || "Error"}: ${err.message}`;
  return String(err);
}

/** The error's stack (or its reason when it has none). */
function stackText(err: unknown): string {
  return err instanceof Error && typeof err.stack === "string" ? err.stack : reasonLine(err);
}

function isClosedPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
}

let guarded = false;

/**
 * Make a program behave on a terminal and in pipes: when the reader of stdout (or stderr) goes
 * away, the program ends at once with `closedCode` and without a word; an error nobody caught is
 * one line `<tool>: <reason>` on stderr (the stack when `verbose()` says so) and exit code 1,
 * unless `uncaught` is false (a program that logs such errors itself).
 */
export function guardProcess(tool: string, verbose: () => boolean = () => false, opts: { closedCode?: number; uncaught?: boolean } = {}): void {
  const closedCode = opts.closedCode ?? 0;
  if (guarded) return;
  guarded = true;
  const onStreamError = (err: unknown): void => {
    // The reader has all it wanted; anything else on a broken stream cannot be reported either.
    process.exit(isClosedPipe(err) ? closedCode : 1);
  };
  process.stdout.on("error", onStreamError);
  process.stderr.on("error", onStreamError);
  const fatal = (err: unknown): void => {
    if (isClosedPipe(err)) process.exit(closedCode);
    try {
      process.stderr.write(`${tool}: ${verbose() ? stackText(err) : reasonLine(err)}\n`);
    } catch {
      // stderr is gone too
    }
    process.exit(1);
  };
  if (opts.uncaught === false) return;
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
}

/** True when argv asks for stacks (`--verbose` anywhere before `--`). */
export function verboseArg(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--verbose");
}

// ---------------------------------------------------------------- log lines

/** IntelMQ's level names for pino's. */
export const PINO_LEVEL: Readonly<Record<string, "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL">> = {
  trace: "DEBUG", debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR", fatal: "CRITICAL",
  10: "DEBUG", 20: "DEBUG", 30: "INFO", 40: "WARNING", 50: "ERROR", 60: "CRITICAL",
};

/** The `err` of a pino line, as pino's serializer writes it. */
export interface LoggedError {
  type?: unknown;
  message?: unknown;
  stack?: unknown;
}

/** The reason of a logged error in one line: `type: message`, else the first line of its stack. */
export function loggedReason(err: LoggedError): string | null {
  const type = typeof err.type === "string" && err.type !== "" ? err.type : null;
  const msg = typeof err.message === "string" ? err.message : null;
  if (type && msg !== null) return `${type}: ${msg}`;
  if (typeof err.stack === "string" && err.stack.trim() !== "") return err.stack.split("\n")[0]!.trim();
  if (msg !== null) return `${type ?? "Error"}: ${msg}`;
  return null;
}

/** One parsed pino line. */
export interface LogEntry {
  level: (typeof PINO_LEVEL)[string];
  name: string;
  message: string;
  err: LoggedError | null;
}

/** A pino JSON line as a LogEntry; null for anything else. */
function parseLogLine(line: string, fallbackName = ""): LogEntry | null {
  const t = line.trim();
  if (!t.startsWith("{")) return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(t) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (o === null || typeof o !== "object" || !("msg" in o || "level" in o)) return null;
  const err = o.err && typeof o.err === "object" ? (o.err as LoggedError) : null;
  return {
    level: PINO_LEVEL[String(o.level)] ?? "INFO",
    name: typeof o.bot_id === "string" ? o.bot_id : fallbackName,
    message: o.msg === undefined ? "" : String(o.msg),
    err,
  };
}

export interface ReadableLogOptions {
  /** Show the stacks of logged errors (else their one-line reason). */
  verbose: boolean;
  /** Name for lines without a bot_id. */
  name?: string;
  /** Change or drop (null) an entry before it is printed. */
  rewrite?: (e: LogEntry) => LogEntry | null;
}

/**
 * A pino line as IntelMQ's terminal format (`<bot-id>: <message>`), the error's reason on the
 * next line (its stack when verbose). Lines that are not pino's pass unchanged; null: drop it.
 */
export function readableLogLine(line: string, o: ReadableLogOptions): string | null {
  const parsed = parseLogLine(line, o.name);
  if (!parsed) return line.replace(/\n$/, "");
  const e = o.rewrite ? o.rewrite(parsed) : parsed;
  if (!e) return null;
  const head = `${e.name ? `${e.name}: ` : ""}${e.message}`;
  if (!e.err) return head;
  const detail = o.verbose && typeof e.err.stack === "string" ? e.err.stack : loggedReason(e.err);
  return detail && detail !== e.message ? `${head}\n${detail.split("\n").map((l) => `    ${l.trimStart()}`).join("\n")}` : head;
}

/**
 * A pino destination that writes readable lines (see readableLogLine): to stderr, or as IntelMQ's
 * terminal handler does with `split`, DEBUG and INFO to stdout and the rest to stderr.
 */
export function readableLogs(o: ReadableLogOptions & { split?: boolean; write?: (text: string, toStdout: boolean) => void }): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) {
        if (line.trim() === "") continue;
        const out = readableLogLine(line, o);
        if (out === null) continue;
        const level = parseLogLine(line)?.level;
        const toStdout = o.split && (level === "DEBUG" || level === "INFO");
        if (o.write) o.write(`${out}\n`, !!toStdout);
        else (toStdout ? process.stdout : process.stderr).write(`${out}\n`);
      }
    },
  };
}
