// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Files output: writes every event into a file of its own in a directory, Maildir style
 * (IntelMQ's intelmq.bots.outputs.files.output). Each file is created under a unique name in `tmp`,
 * written and, in flush() (before the runtime acknowledges the input), synced and renamed into
 * `dir`, whose entry is then synced too: a reader of `dir` only ever sees complete files, and
 * nothing is acknowledged that is not on disk. The names an input's files get are synced to a
 * journal before they are moved, so an input that comes again (a crash, a lost ack) is found
 * there and not written twice, and a crash in the middle of the moves is finished at start.
 */
import { closeSync, existsSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { INTELMQ_ROOT, Journal, defineBot, exportEventText, outputParams, outputPath, type BotContext, type InputRef, type OutputImpl, type Event, ConfigurationError } from "../../../shared/sdk/index.js";


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

/** A journal record: input `k` moves these files from tmp into dir. */
interface Moves { k: string; names: string[] }

/** Inputs whose files are known to be in dir, remembered at most. */
const DONE_MEMORY = 10_000;

const LONE_SURROGATE = /\p{Cs}/u;

function create(prm: Params, ctx: BotContext): OutputImpl {
  const resolve = (d: string): string => outputPath(d, ctx.rootDir);
  const tmp = ensureDir(resolve(prm.tmp), "tmp");
  const dir = ensureDir(resolve(prm.dir), "dir");
  // rename() only moves a file atomically within one filesystem
  if (statSync(tmp).dev !== statSync(dir).dev) throw new ConfigurationError("bot setup", "tmp and dir must reside on the same filesystem");
  const host = hostname();
  const pending: Written[] = [];
  const done = new Set<string>();
  const markDone = (k: string): void => {
    done.add(k);
    if (done.size > DONE_MEMORY) done.delete(done.values().next().value!);
  };
  const journal = ctx.testing ? null : new Journal<Moves>(join(ctx.stateDir, "files.journal"));
  if (journal) {
    // Only the last flush can have been cut short (they run one at a time): finish its moves.
    const recs = journal.records;
    for (const r of recs) markDone(r.k);
    const last = recs[recs.length - 1];
    if (last) {
      let moved = 0;
      for (const name of last.names) {
        if (existsSync(join(tmp, name))) { renameSync(join(tmp, name), join(dir, name)); moved++; }
      }
      if (moved) {
        syncDir(dir);
        ctx.log.warn(`Moved ${moved} file(s) of an interrupted flush into ${JSON.stringify(dir)}.`);
      }
    }
  }

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
    async flush(input: InputRef): Promise<void> {
      if (!pending.length) return;
      if (done.has(input.key)) {
        // Its files were moved into dir before this input came again.
        discard(pending.splice(0));
        return;
      }
      await Promise.all(pending.map((f) => new Promise<void>((res, rej) => fdatasync(f.fd, (err) => (err ? rej(err) : res())))));
      journal?.append([{ k: input.key, names: pending.map((f) => f.name) }]);
      // What is moved leaves `pending`; what a failure left stays there for the retry.
      while (pending.length) {
        const f = pending[0]!;
        try { closeSync(f.fd); } catch { /* closed by an earlier attempt */ }
        renameSync(join(tmp, f.name), join(dir, f.name));
        pending.shift();
      }
      syncDir(dir);
      markDone(input.key);
    },
    discard(): void {
      discard(pending.splice(0));
    },
    shutdown(): void {
      // Never acknowledged: the events come again after the restart.
      discard(pending.splice(0));
      journal?.close();
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
