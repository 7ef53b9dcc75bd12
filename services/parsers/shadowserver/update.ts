// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Downloading Shadowserver's schema (IntelMQ's update_schema): fetched into a temporary file
 * beside the schema, checked, and renamed over it in one step, so a bot reading it sees the old
 * file or the new one, never a part. The old one is kept as `<file>.bak`.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { BotContext } from "../../../shared/sdk/index.js";
import { parseSchema } from "./schema.js";

export interface UpdateOptions {
  url: string;
  /** The schema file to replace. */
  target: string;
  log: BotContext["log"];
  timeoutMs: number;
  userAgent: string;
  /**
   * IntelMQ's once-an-hour limit (auto_update): skip when `<dir>/shadowserver-schema.check` is
   * younger than an hour, else touch it and go on. The operator's command always downloads.
   */
  hourly?: boolean;
}

export type UpdateResult = "updated" | "unchanged" | "skipped";

const HOUR_MS = 3600_000;

function versionOf(path: string): string | null {
  try {
    const doc = JSON.parse(readFileSync(path, "utf8")) as { _meta?: { date_created?: unknown } };
    return typeof doc._meta?.date_created === "string" ? doc._meta.date_created : null;
  } catch {
    return null;
  }
}

/** Download, check and install the schema; throws (keeping the old file) when any step fails. */
export async function updateSchema(o: UpdateOptions): Promise<UpdateResult> {
  const dir = dirname(o.target);
  mkdirSync(dir, { recursive: true });
  if (o.hourly) {
    const check = join(dir, "shadowserver-schema.check");
    if (existsSync(check) && Date.now() - statSync(check).mtimeMs < HOUR_MS) {
      o.log.debug("The schema was checked less than an hour ago; not downloading it again.");
      return "skipped";
    }
    closeSync(openSync(check, "a"));
    const now = new Date();
    utimesSync(check, now, now);
  }
  o.log.info(`Attempting to download schema from ${o.url}`);
  let text: string;
  try {
    const res = await fetch(o.url, { headers: { "User-Agent": o.userAgent }, signal: AbortSignal.timeout(o.timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    text = await res.text();
  } catch (err) {
    throw new Error(`Failed to download ${o.url}: ${(err as Error).message}`, { cause: err });
  }
  o.log.info("Download successful.");
  let version: string | null;
  try {
    version = parseSchema(text, true).version;
  } catch (err) {
    throw new Error(`The schema downloaded from ${o.url} is not usable: ${(err as Error).message}`, { cause: err });
  }
  const old = existsSync(o.target) ? versionOf(o.target) : null;
  if (old !== null && old === version) {
    o.log.info(`The schema is up to date (version ${version}).`);
    return "unchanged";
  }
  const tmp = join(dir, `.${basename(o.target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (existsSync(o.target)) copyFileSync(o.target, o.target + ".bak");
    renameSync(tmp, o.target);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* not written */ }
    throw new Error(`Unable to replace the schema file ${o.target}: ${(err as Error).message}`, { cause: err });
  }
  o.log.info(`New schema version is ${version}.`);
  return "updated";
}
