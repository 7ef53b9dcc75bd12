// SPDX-License-Identifier: AGPL-3.0-only
/**
 * File collector: reads the files of a directory whose names end with a postfix into reports,
 * optionally deleting them (IntelMQ's intelmq.bots.collectors.file.collector_file).
 */
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync, fstatSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { collectorParams, defineBot, p, type BotContext, type CollectorImpl, type Report, ConfigurationError, InvalidArgument } from "../../../shared/sdk/index.js";
import { Ledger } from "../lib/ledger.js";

export const params = z.object({
  ...collectorParams,
  path: z.string().default("/tmp/").describe("Directory to read files from"),
  postfix: z.string().nullable().default(".csv").describe("Read files whose names match `*<postfix>` (shell pattern); empty: all files"),
  delete_file: p.bool().default(false).describe("Delete each file after it was read and sent"),
  chunk_size: p.int().pipe(z.number().int().positive()).nullable().default(null)
    .describe("Split files into reports of at most this many bytes, at line ends; null: one report per file"),
  chunk_replicate_header: p.bool().default(true).describe("With chunk_size: repeat the file's first line at the start of every chunk"),
}).strict();

export type Params = z.infer<typeof params>;

/** Python's fnmatch translated to a RegExp (*, ?, [seq], [!seq]); case-sensitive as on POSIX. */
export function fnmatchRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) { re += "\\["; continue; }
      let body = pattern.slice(i + 1, j).replaceAll("\\", "\\\\");
      if (body.startsWith("!")) body = "^" + body.slice(1);
      else if (body.startsWith("^")) body = "\\" + body;
      re += `[${body}]`;
      i = j;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Splits data into pieces of at most `size` bytes at "\n" where possible (IntelMQ's split_chunks). */
export function* splitChunks(data: Buffer, size: number): Generator<Buffer> {
  let pos = 0;
  while (data.length - pos > size) {
    let nl = data.lastIndexOf(10, pos + size - 1);
    if (nl < pos) nl = data.indexOf(10, pos + size);
    if (nl === -1) break;
    yield data.subarray(pos, nl + 1);
    pos = nl + 1;
  }
  if (pos < data.length) yield data.subarray(pos);
}

function readWhole(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.max(65536, size - total + 1));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const dir = resolve(ctx.rootDir, prm.path); // a relative path is relative to INTELMQ_ROOT_DIR
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st || !st.isDirectory()) throw new InvalidArgument("path", prm.path, "directory");
  if (!prm.postfix) {
    ctx.log.warn(`No file extension was set. The collector will read all files in ${prm.path}.`);
    if (prm.delete_file) throw new ConfigurationError("file collector", `delete_file with an empty postfix would delete all files in ${prm.path}`);
  }
  const match = fnmatchRegex("*" + (prm.postfix ?? ""));

  /** The file's data as the raws of its reports (one, or one per chunk). */
  function piecesOf(data: Buffer): Buffer[] {
    if (prm.chunk_size === null) return data.length ? [data] : [];
    let body: Buffer = data;
    let header: Buffer = Buffer.alloc(0);
    if (prm.chunk_replicate_header) {
      const nl = data.indexOf(10);
      header = nl === -1 ? data : data.subarray(0, nl + 1);
      body = nl === -1 ? Buffer.alloc(0) : data.subarray(nl + 1);
    }
    return [...splitChunks(body, prm.chunk_size)].map((chunk) => header.length ? Buffer.concat([header, chunk]) : chunk);
  }

  /**
   * The files read and which of their reports the broker stored, across rounds: a round that fails
   * after some reports were stored (a later file could not be read) does not send those again in
   * the next round. A file is deleted (delete_file) once all its reports are stored.
   */
  const ledger = new Ledger<string>();

  return {
    *collect(): Iterable<Report> {
      if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
      for (const name of readdirSync(dir).sort()) {
        if (!match.test(name)) continue;
        const path = join(dir, name);
        if (!statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
        ctx.log.info(`Processing file ${JSON.stringify(path)}.`);
        let data: Buffer;
        try {
          data = readWhole(path);
        } catch (err) {
          // removed since it was listed (by another reader): nothing to read, nothing lost
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
          throw err;
        }
        ledger.begin(path, path);
        const template = ctx.newReport();
        template.add("feed.url", `file://localhost${path}`);
        template.add("extra.file_name", name);
        const pieces = piecesOf(data);
        for (let i = 0; i < pieces.length; i++) {
          const piece = pieces[i]!;
          // the same content at the same place of the same file: stored already if the ledger says so
          const part = `${path}\0${i}\0${createHash("sha256").update(piece).digest("hex")}`;
          if (ledger.stored(part)) {
            ledger.part(path, part);
            continue;
          }
          const report = template.copy();
          report.add("raw", piece.toString("base64"), { sanitize: false, overwrite: true });
          ledger.part(path, part, report);
          yield report;
        }
        ledger.end(path);
      }
    },
    queued: (report) => ledger.queued(report),
    commit(): void {
      const failed: string[] = [];
      let cause: unknown;
      for (const [key, path] of ledger.ready()) {
        if (prm.delete_file) {
          try {
            unlinkSync(path);
            ctx.log.debug(`Deleted file: ${JSON.stringify(path)}.`);
          } catch (err) {
            // gone already: nothing to read again
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
              failed.push(path);
              cause ??= err;
              continue;
            }
          }
        }
        // without delete_file the next round reads and sends the file again, as IntelMQ does
        ledger.done(key);
      }
      if (failed.length) {
        throw new ConfigurationError("file collector", `could not delete file ${failed.join(", ")}; stopping to prevent reading it again`, { cause });
      }
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "file",
  intelmq: "intelmq.bots.collectors.file.collector_file",
  description: "Read files matching a postfix from a directory into reports",
  params,
  runtimeDefaults: { rate_limit: 300 }, // IntelMQ: the file collector reads its directory every 5 minutes
  create,
});
