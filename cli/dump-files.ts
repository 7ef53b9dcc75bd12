// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's dump files (<bot-id>.dump): a JSON object keyed by naive UTC ISO timestamps whose
 * values are {bot_id, source_queue, traceback, message, message_type?}, written with four spaces
 * of indentation, sorted keys and ASCII escapes as IntelMQ's bots write them. intelmqdump
 * --export writes our dumps in this shape and --import reads it, so dumps move both ways.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Broker, DumpEntry } from "../shared/broker/index.js";

/** A JSON text as Python's json.dump(indent=4, sort_keys=True) writes it (ensure_ascii on). */
export function pythonIndentedJson(v: unknown): string {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x && typeof x === "object") return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted((x as Record<string, unknown>)[k])]));
    return x;
  };
  // Python escapes everything outside printable ASCII (DEL included), in lower-case hex.
  return JSON.stringify(sorted(v), null, 4).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One timestamp later by a microsecond (two entries of one file cannot share a key). */
function nextMicrosecond(ts: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(.*)$/.exec(ts);
  if (!m) return `${ts}.000001`;
  const base = Date.parse(`${m[1]}Z`);
  const micros = Number((m[2] ?? "0").padEnd(6, "0")) + 1;
  const carry = Math.floor(micros / 1_000_000);
  const iso = new Date(base + carry * 1000).toISOString().slice(0, 19);
  return `${iso}.${String(micros % 1_000_000).padStart(6, "0")}${m[3]}`;
}

/**
 * The text of a dump file with these entries. Entries sharing a timestamp get keys one
 * microsecond apart (the returned `renamed` counts them).
 */
export function dumpFileText(entries: readonly DumpEntry[]): { text: string; renamed: number } {
  const out: Record<string, Record<string, unknown>> = {};
  let renamed = 0;
  for (const e of entries) {
    let key = e.timestamp;
    if (Object.hasOwn(out, key)) renamed++;
    while (Object.hasOwn(out, key)) key = nextMicrosecond(key);
    out[key] = {
      bot_id: e.bot_id,
      source_queue: e.source_queue,
      traceback: e.traceback,
      message: e.message,
      ...(e.message_type ? { message_type: e.message_type } : {}),
    };
  }
  return { text: pythonIndentedJson(out), renamed };
}

/** The entries of a dump file; `fallbackBotId` (from the file name) where an entry names no bot. */
export function parseDumpFile(text: string, fallbackBotId: string | null, file = "dump file"): DumpEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error(`${file}: a dump file is a JSON object keyed by timestamps`);
  const out: DumpEntry[] = [];
  for (const [timestamp, v] of Object.entries(data as Record<string, unknown>)) {
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error(`${file}: entry ${timestamp} is not an object`);
    const e = v as Record<string, unknown>;
    const botId = typeof e.bot_id === "string" ? e.bot_id : fallbackBotId;
    if (!botId) throw new Error(`${file}: entry ${timestamp} names no bot (bot_id) and the file name does not either`);
    let message = e.message;
    // Very old IntelMQ versions stored the message as an object; the format is its JSON text.
    if (message && typeof message === "object") message = JSON.stringify(message);
    if (typeof message !== "string") throw new Error(`${file}: entry ${timestamp} has no message`);
    const tb = e.traceback;
    out.push({
      bot_id: botId,
      source_queue: typeof e.source_queue === "string" ? e.source_queue : null,
      traceback: Array.isArray(tb) ? tb.map(String) : typeof tb === "string" ? tb : tb === undefined || tb === null ? [] : String(tb),
      message,
      ...(e.message_type === "base64" ? { message_type: "base64" as const } : {}),
      timestamp,
    });
  }
  return out;
}

/** Entries are the same dump (for not importing one twice). */
export function sameDump(a: DumpEntry, b: DumpEntry): boolean {
  return a.bot_id === b.bot_id && a.timestamp === b.timestamp && a.message === b.message && (a.message_type ?? null) === (b.message_type ?? null);
}

/** What --export and --import print. */
type Say = (line: string) => void;

const dumpName = /\.dump$/;

/**
 * `intelmqdump --export FILE [bot-id]`: the dumps (of one bot, or all) into IntelMQ's format.
 * FILE an existing folder (or ending in "/"): one <bot-id>.dump per bot, as IntelMQ keeps them.
 * The dumps stay where they are.
 */
export async function exportDumps(broker: Broker, target: string, botId: string | undefined, say: Say): Promise<number> {
  const entries = await broker.dumps.read(botId);
  const toDir = target.endsWith("/") || (existsSync(target) && statSync(target).isDirectory());
  const groups = new Map<string, DumpEntry[]>();
  for (const e of toDir ? entries : []) {
    const file = join(target, `${e.bot_id}.dump`);
    groups.set(file, [...(groups.get(file) ?? []), e]);
  }
  if (!toDir) groups.set(target, entries);
  if (toDir) mkdirSync(target, { recursive: true });
  for (const [file, list] of groups) {
    const { text, renamed } = dumpFileText(list);
    writeFileSync(file, text);
    say(`Exported ${list.length} dumps to ${file}.${renamed ? ` ${renamed} shared a timestamp with another: their keys are a microsecond later.` : ""}`);
  }
  if (entries.length === 0) say(`Nothing to export: no dumps${botId ? ` of ${botId}` : ""}.`);
  return 0;
}

/**
 * `intelmqdump --import FILE`: IntelMQ's dump file (or a folder of *.dump files) into the dumps
 * stream, to recover with intelmqdump as any other dump. An entry already there is not stored again.
 */
export async function importDumps(broker: Broker, source: string, say: Say): Promise<number> {
  const files = statSync(source).isDirectory() ? readdirSync(source).filter((f) => dumpName.test(f)).sort().map((f) => join(source, f)) : [source];
  let failed = 0;
  for (const file of files) {
    let entries: DumpEntry[];
    try {
      entries = parseDumpFile(readFileSync(file, "utf8"), dumpName.test(basename(file)) ? basename(file).replace(dumpName, "") : null, file);
    } catch (err) {
      say(`Not imported: ${(err as Error).message}`);
      failed++;
      continue;
    }
    const have = new Map<string, DumpEntry[]>();
    let stored = 0;
    for (const e of entries) {
      if (!have.has(e.bot_id)) have.set(e.bot_id, await broker.dumps.read(e.bot_id));
      if (have.get(e.bot_id)!.some((x) => sameDump(x, e))) continue;
      await broker.dumps.store(e);
      stored++;
    }
    say(`Imported ${stored} dumps from ${file}${entries.length > stored ? ` (${entries.length - stored} were there already)` : ""}.`);
  }
  return failed ? 1 : 0;
}
