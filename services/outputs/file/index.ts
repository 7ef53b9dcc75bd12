// SPDX-License-Identifier: AGPL-3.0-only
/**
 * File output: appends one JSON line per event to a file (IntelMQ's intelmq.bots.outputs.file.output).
 * Lines are buffered and written, then synced to disk, in flush(), which the runtime calls before
 * it acknowledges the input: nothing is acknowledged that is not on disk. Syncs run off the main
 * thread and are shared by the flushes waiting at the same time (group commit).
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import {
  INTELMQ_ROOT, defineBot, encodeErrors, encodingErrorsMode, eventFilename, exportEventText, outputParams, outputPath, p,
} from "../../../shared/runtime/index.js";
import type { BotContext, OutputImpl } from "../../../shared/runtime/index.js";
import type { Event } from "../../../shared/message/index.js";

export const params = z.object({
  file: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/file-output/events.txt`)
    .describe("File to append to; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  format_filename: p.bool().default(false)
    .describe("Treat `file` as a Python format string over the event, e.g. /data/{event[time.source]:%Y-%m-%d}/{event[classification.type]}.txt"),
  encoding_errors_mode: encodingErrorsMode(),
  ...outputParams,
}).strict();

export type Params = z.infer<typeof params>;

/** Buffered bytes above which export() writes through before flush(). */
const WRITE_THROUGH = 1 << 20;
/** Files kept open at once when file names come from events. */
const MAX_OPEN = 16;

// Kept importable from here, where it first lived.
export { encodeErrors };

interface OpenFile { fd: number; ino: number; dev: number }

function create(prm: Params, ctx: BotContext): OutputImpl {
  // relative to INTELMQ_ROOT_DIR, as every path of ours
  const fixed = prm.format_filename ? null : outputPath(prm.file, ctx.rootDir);
  const open = new Map<string, OpenFile>();
  const pending = new Map<string, string[]>();
  let pendingBytes = 0;
  const mode = prm.encoding_errors_mode;

  /** Files written to since their last sync started. */
  const dirty = new Set<OpenFile>();
  /** Write generations: each writeAll() is one; `synced` is the last one known to be on disk. */
  let written = 0, synced = 0;
  let syncing: Promise<void> | null = null;

  function closeFile(path: string, f: OpenFile): void {
    if (dirty.delete(f)) fdatasyncSync(f.fd);
    closeSync(f.fd);
    open.delete(path);
  }

  function openFile(path: string): OpenFile {
    let fd: number;
    try {
      fd = openSync(path, "a", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      fd = openSync(path, "a", 0o644);
    }
    const st = fstatSync(fd);
    const f = { fd, ino: st.ino, dev: st.dev };
    open.set(path, f);
    if (open.size > MAX_OPEN) {
      const [oldest, of] = open.entries().next().value as [string, OpenFile];
      if (!pending.has(oldest) && !syncing) closeFile(oldest, of);
    }
    ctx.log.info({ file: path }, `File ${JSON.stringify(path)} is open.`);
    return f;
  }

  /** The open file for path, reopened when it was moved or deleted (log rotation). */
  function fileFor(path: string): OpenFile {
    const f = open.get(path);
    if (!f) return openFile(path);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && st.ino === f.ino && st.dev === f.dev) return f;
    closeFile(path, f);
    return openFile(path);
  }

  /** Writes the buffered lines to their files; returns the write generation. */
  function writeAll(): number {
    for (const [path, lines] of pending) {
      const f = fileFor(path);
      const data = Buffer.from(lines.join(""), "utf8");
      let off = 0;
      while (off < data.length) off += writeSync(f.fd, data, off, data.length - off);
      dirty.add(f);
      pending.delete(path);
    }
    pendingBytes = 0;
    return ++written;
  }

  /** Resolves once everything written up to generation `gen` is synced to disk. */
  async function syncedUpTo(gen: number): Promise<void> {
    while (synced < gen) {
      if (syncing) { await syncing; continue; }
      const target = written;
      const files = [...dirty];
      dirty.clear();
      syncing = Promise.all(files.map((f) => new Promise<void>((res, rej) => fdatasync(f.fd, (err) => (err ? rej(err) : res())))))
        .then(() => { synced = Math.max(synced, target); })
        .catch((err: unknown) => { for (const f of files) dirty.add(f); throw err; })
        .finally(() => { syncing = null; });
      await syncing;
    }
  }

  function filenameFor(event: Event): string {
    return fixed ?? eventFilename(prm.file, event, ctx.rootDir);
  }

  if (fixed) openFile(fixed); // fail at start if the file cannot be opened, as IntelMQ does

  return {
    export(event: Event): void {
      const path = filenameFor(event);
      const line = encodeErrors(exportEventText(event, prm), mode) + "\n";
      let list = pending.get(path);
      if (!list) pending.set(path, (list = []));
      list.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= WRITE_THROUGH) writeAll();
    },
    async flush(): Promise<void> {
      const gen = pending.size ? writeAll() : written;
      await syncedUpTo(gen);
    },
    async shutdown(): Promise<void> {
      try {
        if (pending.size) writeAll();
        if (syncing) await syncing.catch(() => undefined);
      } finally {
        for (const [path, f] of [...open]) closeFile(path, f);
      }
    },
  };
}

export default defineBot({
  kind: "output",
  name: "file",
  intelmq: "intelmq.bots.outputs.file.output",
  description: "Append events as JSON lines to a file",
  params,
  create,
});
