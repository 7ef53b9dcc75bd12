// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Local databases of experts (GeoIP, ASN, risk lists, Tor nodes, public suffixes): IntelMQ's
 * `--update-database` (download from the configured URL, verify by parsing, replace the file
 * atomically: temp file + rename) and the running bot's reload of the file when it is replaced.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, watch, writeSync, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Logger } from "pino";
import { ConfigurationError, errorMessage } from "../errors/index.js";
import { outputPath } from "./output-files.js";
import type { BotCheckContext, BotCheckLine, BotCommand } from "./types.js";

/** Where a database comes from. */
export interface DatabaseSource {
  url: string;
  headers?: Record<string, string>;
  /** In a tar archive: the member whose name ends with this (e.g. "GeoLite2-City.mmdb"). */
  member?: string;
}

/**
 * What a bot with a local database declares; `databaseCommands(spec)` and `databaseCheck(spec)`
 * make its `commands` (--update-database) and `check` of it.
 */
export interface DatabaseSpec<P = never> {
  /** The file as configured (a parameter; relative paths and /opt/intelmq are taken under the root). */
  file(params: P): string;
  /** The download, or a text saying what is missing in the configuration. */
  source(params: P): DatabaseSource | string;
  /** Parse the downloaded bytes as the bot will; throw when unusable. Returns a summary ("1234 entries"). */
  verify(data: Buffer): string | Promise<string>;
  /** Whether updates are wanted (IntelMQ's autoupdate_cached_database); default true. */
  enabled?(params: P): boolean;
}

export interface UpdateResult {
  file: string;
  bytes: number;
  summary: string;
}

/** gunzip when gzip, then take the member out when a tar archive. */
export function unpack(data: Buffer, member?: string): Buffer {
  let d = data;
  if (d.length >= 2 && d[0] === 0x1f && d[1] === 0x8b) d = gunzipSync(d);
  if (d.length >= 512 && d.subarray(257, 262).toString("latin1") === "ustar") return untar(d, member);
  return d;
}

/** A member of a tar archive: the one named `member` (in any folder), else the only regular file. */
function untar(d: Buffer, member?: string): Buffer {
  const files: { name: string; data: Buffer }[] = [];
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= d.length) {
    const h = d.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => h.subarray(a, a + n).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(str(124, 12).trim() || "0", 8);
    const type = str(156, 1) || "0";
    const prefix = str(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const body = d.subarray(off + 512, off + 512 + size);
    longName = null;
    if (type === "L") longName = body.toString("utf8").replace(/\0.*$/s, "");
    else if (type === "0" || type === "7") files.push({ name, data: body });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  const hit = (member ? files.find((f) => f.name === member || f.name.endsWith(`/${member}`)) : undefined) ?? (files.length === 1 ? files[0] : undefined);
  if (!hit) throw new Error(member ? `no ${member} in the downloaded archive (${files.map((f) => f.name).join(", ") || "empty"})` : "the downloaded archive holds more than one file");
  return hit.data;
}

/** Write a file so that readers see the old or the new content, never a part: temp file, fsync, rename. */
export function replaceFile(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w", 0o644);
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** The file of a bot's database: relative paths and /opt/intelmq/... under the root. */
export function databasePath(file: string, rootDir: string): string {
  return outputPath(file, rootDir);
}

/** Download, verify and install one bot's database. Throws ConfigurationError for a configuration without source. */
export async function updateDatabase<P>(spec: DatabaseSpec<P>, params: P, rootDir: string, opts: { timeoutMs?: number; log?: Logger } = {}): Promise<UpdateResult> {
  const src = spec.source(params);
  if (typeof src === "string") throw new ConfigurationError("database", src);
  const file = databasePath(spec.file(params), rootDir);
  opts.log?.info(`Downloading ${redactUrl(src.url)} for ${file}.`);
  const res = await fetch(src.url, { headers: src.headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 300_000), redirect: "follow" });
  if (res.status === 401 || res.status === 403) throw new Error(`Database update failed. The server refused the credentials (HTTP ${res.status}).`);
  if (res.status !== 200) throw new Error(`Database update failed. Server responded: ${res.status}. URL: ${redactUrl(src.url)}`);
  const data = unpack(Buffer.from(await res.arrayBuffer()), src.member);
  let summary: string;
  try {
    summary = await spec.verify(data);
  } catch (err) {
    throw new Error(`Database update failed. The downloaded database is not usable: ${errorMessage(err)}`, { cause: err });
  }
  replaceFile(file, data);
  return { file, bytes: data.length, summary };
}

/** A URL for logs: query values (license keys, tokens) hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, "***");
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Call `reload` when the file is replaced or changed (an update renames a new file over it, so
 * the directory is watched, not the file). Changes are collected for `delayMs` before the reload.
 * `reload` throwing keeps the loaded database (logged). Returns the watcher's close().
 */
export function watchDatabase(file: string, reload: () => void | Promise<void>, log: Logger, delayMs = 200): () => void {
  const name = basename(file);
  let timer: NodeJS.Timeout | null = null;
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        Promise.resolve().then(reload).then(
          () => log.info(`Reloaded ${file}.`),
          (err: unknown) => log.error({ err }, `Reloading ${file} failed, keeping the loaded database: ${errorMessage(err)}`),
        );
      }, delayMs);
      timer.unref();
    });
  } catch (err) {
    log.warn(`Cannot watch ${file} for updates (${errorMessage(err)}): a reload of the bot reads it again.`);
    return () => undefined;
  }
  watcher.on("error", (err) => log.warn({ err }, `Watching ${file} stopped: ${errorMessage(err)}`));
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}

/** readFileSync with the bot's message when the file is missing. */
export function readDatabase(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigurationError("database", `cannot read the ${what} ${file}: ${errorMessage(err)} (intelmq-bot <bot-id> --update-database downloads it)`, { cause: err });
  }
}

/** The bot's `commands`: `update-database` (IntelMQ's `--update-database`). */
export function databaseCommands<P>(spec: DatabaseSpec<P>): Record<string, BotCommand<P>> {
  return {
    "update-database": {
      description: "Download the bot's database from its configured URL, verify it and replace the file atomically (running bots reload it)",
      async run(params, env) {
        if (spec.enabled && !spec.enabled(params)) {
          env.log.warn("Database update skipped: autoupdate_cached_database is false.");
          return 0;
        }
        try {
          const r = await updateDatabase(spec, params, env.rootDir, { log: env.log });
          env.log.info(`Database updated: ${r.file} (${r.summary}, ${r.bytes} bytes). Running instances reload it.`);
          return 0;
        } catch (err) {
          env.log.error({ err }, errorMessage(err));
          return 1;
        }
      },
    },
  };
}

/** The bot's `check` (intelmqctl check): its database file exists. */
export function databaseCheck<P>(spec: DatabaseSpec<P>): (params: P, ctx: BotCheckContext) => BotCheckLine[] {
  return (params, ctx) => {
    const configured = spec.file(params);
    if (!configured) return [];
    const file = databasePath(configured, ctx.rootDir);
    return existsSync(file) ? [] : [["warning", `its database ${file} does not exist (intelmq-bot ${ctx.botId} --update-database downloads it).`]];
  };
}
