// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Files output: writes every event into a file of its own in a directory, Maildir style
 * (IntelMQ's intelmq.bots.outputs.files.output). Each file is created under a unique name in `tmp`,
 * written and, in flush() (before the runtime acknowledges the input), synced and renamed into
 * `dir`, whose entry is then synced too: a reader of `dir` only ever sees complete files, and
 * nothing is acknowledged that is not on disk.
 */
import { closeSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { INTELMQ_ROOT, defineBot, exportEventText, outputParams, outputPath } from "../../../shared/runtime/index.js";
import type { BotContext, OutputImpl } from "../../../shared/runtime/index.js";
import type { Event } from "../../../shared/message/index.js";
import { ConfigurationError } from "../../../shared/errors/index.js";


export const params = z.object({
  dir: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/files-output/incoming`)
    .describe("Directory the finished files are moved into; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  tmp: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/files-output/tmp`)
    .describe("Directory the files are written in first; must be on the same filesystem as `dir` (it may be `dir` itself)"),
  suffix: z.string().default(".json").describe("Ending of every file name"),
  ...outputParams,
}).strict();

export type Params = z.infer<typeof params>;

/** A file written in tmp, waiting for flush() to sync it and move it into dir. */
interface Written { fd: number; name: string }

const LONE_SURROGATE = /\p{Cs}/u;

function create(prm: Params, ctx: BotContext): OutputImpl {
  const resolve = (d: string): string => outputPath(d, ctx.rootDir);
  const tmp = ensureDir(resolve(prm.tmp), "tmp");
  const dir = ensureDir(resolve(prm.dir), "dir");
  // rename() only moves a file atomically within one filesystem
  if (statSync(tmp).dev !== statSync(dir).dev) throw new ConfigurationError("bot setup", "tmp and dir must reside on the same filesystem");
  const host = hostname();
  const pending: Written[] = [];

  /** hostname.pid.time.device.inode + suffix: unique on this machine (IntelMQ's names). */
  const newName = (dev: bigint, ino: bigint): string => {
    const now = ((performance.timeOrigin + performance.now()) / 1000).toFixed(6);
    return `${host}.${process.pid}.${now}.${dev}.${ino}${prm.suffix}`;
  };

  /** Creates a file with a name unique in tmp, then renames it to include its device and inode. */
  function createUnique(): Written {
    for (;;) {
      const first = newName(0n, 0n);
      let fd: number;
      try {
        fd = openSync(join(tmp, first), "wx+", 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw err;
      }
      try {
        const st = fstatSync(fd, { bigint: true });
        const name = newName(st.dev, st.ino);
        renameSync(join(tmp, first), join(tmp, name));
        return { fd, name };
      } catch (err) {
        closeSync(fd);
        unlinkSync(join(tmp, first));
        throw err;
      }
    }
  }

  /** Drops files not moved into dir (their events are retried and written again). */
  function discard(files: Written[]): void {
    for (const f of files) {
      try { closeSync(f.fd); } catch { /* already closed */ }
      try { unlinkSync(join(tmp, f.name)); } catch { /* already gone */ }
    }
  }

  return {
    export(event: Event): void {
      const text = exportEventText(event, prm);
      // Python's strict UTF-8 encoder refuses lone surrogates; Buffer.from would replace them silently
      if (LONE_SURROGATE.test(text)) throw new Error("'utf-8' codec can't encode a surrogate: surrogates not allowed");
      const data = Buffer.from(text, "utf8");
      const f = createUnique();
      try {
        let off = 0;
        while (off < data.length) off += writeSync(f.fd, data, off, data.length - off);
      } catch (err) {
        discard([f]);
        throw err;
      }
      pending.push(f);
    },
    async flush(): Promise<void> {
      if (!pending.length) return;
      const files = pending.splice(0);
      let moved = 0;
      try {
        await Promise.all(files.map((f) => new Promise<void>((res, rej) => fdatasync(f.fd, (err) => (err ? rej(err) : res())))));
        for (const f of files) {
          closeSync(f.fd);
          renameSync(join(tmp, f.name), join(dir, f.name));
          moved++;
        }
        syncDir(dir);
      } catch (err) {
        discard(files.slice(moved));
        throw err;
      }
    },
    shutdown(): void {
      // Never acknowledged: the events come again after the restart.
      discard(pending.splice(0));
    },
  };
}

/** Creates the directory if missing (IntelMQ creates only the last level; parents are created too here). */
function ensureDir(path: string, name: string): string {
  try {
    mkdirSync(path, { recursive: true, mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  if (!statSync(path).isDirectory()) throw new ConfigurationError("bot setup", `${name} ${JSON.stringify(path)} is not a directory`);
  return path;
}

/** Syncs a directory's entries (the renames) to disk. */
function syncDir(path: string): void {
  const fd = openSync(path, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

export default defineBot({
  kind: "output",
  name: "files",
  intelmq: "intelmq.bots.outputs.files.output",
  description: "Writes every event into a file of its own in a directory",
  params,
  create,
});
