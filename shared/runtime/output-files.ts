// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What the output bots that write files share: IntelMQ's paths (/opt/intelmq/... and relative
 * paths under INTELMQ_ROOT_DIR), file names formatted from the event (format_filename), Python's
 * encoding error handlers, and appendOutput(): text appended per event and synced before the
 * input is acknowledged, files reopened when rotated, a header written when a file needs one.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import { InvalidArgument, InvalidValue } from "../errors/index.js";
import type { Event } from "../message/index.js";
import { PyDateTime, pyFormat } from "./pyformat.js";
import type { BotContext, OutputImpl } from "./types.js";

/** IntelMQ's installation root: paths under it are taken under INTELMQ_ROOT_DIR. */
export const INTELMQ_ROOT = "/opt/intelmq";

/** Python's `errors` modes of open(), as IntelMQ's file outputs accept them. */
export const encodingErrorsMode = () =>
  z.enum(["strict", "ignore", "replace", "backslashreplace", "xmlcharrefreplace", "surrogateescape", "namereplace"])
    .default("strict").describe("What to do with text that cannot be encoded as UTF-8 (Python's `errors` of open())");

/** A configured path: /opt/intelmq/... and relative paths under INTELMQ_ROOT_DIR. */
export function outputPath(file: string, rootDir: string): string {
  let f = file;
  if (f === INTELMQ_ROOT || f.startsWith(INTELMQ_ROOT + "/")) f = join(rootDir, f.slice(INTELMQ_ROOT.length));
  return isAbsolute(f) ? f : join(rootDir, f);
}

/**
 * The file name of an event from a format string (`{event[time.source]:%Y-%m-%d}`): time fields
 * are dates; a missing field fails the event with IntelMQ's KeyError text.
 */
export function eventFilename(template: string, event: Event, rootDir: string, param = "file"): string {
  const keys = new Set(event.keys());
  const lookup = (key: string): unknown => {
    if (!keys.has(key)) throw new InvalidArgument(param, template, `a field present in the event (KeyError: '${key}')`);
    const v = event.get(key);
    if ((key === "time.observation" || key === "time.source") && typeof v === "string") {
      const dt = PyDateTime.fromIso(v);
      if (!dt) throw new InvalidValue(key, v, "does not match format '%Y-%m-%dT%H:%M:%S+00:00'");
      return dt;
    }
    return v;
  };
  return outputPath(pyFormat(template, { event: lookup }), rootDir);
}

const LONE_SURROGATE = /\p{Cs}/u;

/** Applies Python's encoding error handlers to text with lone surrogates (the only unencodable JS text). */
export function encodeErrors(text: string, mode: string): string {
  if (!LONE_SURROGATE.test(text)) return text;
  if (mode === "strict") throw new InvalidValue("output", text, "'utf-8' codec can't encode a surrogate: surrogates not allowed");
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isHigh = c >= 0xd800 && c <= 0xdbff, isLow = c >= 0xdc00 && c <= 0xdfff;
    if (isHigh && i + 1 < text.length) {
      const n = text.charCodeAt(i + 1);
      if (n >= 0xdc00 && n <= 0xdfff) { out += text[i]! + text[i + 1]!; i++; continue; }
    }
    if (!isHigh && !isLow) { out += text[i]; continue; }
    switch (mode) {
      case "ignore": break;
      case "replace": out += "?"; break;
      case "xmlcharrefreplace": out += `&#${c};`; break;
      case "surrogateescape":
        if (c >= 0xdc80 && c <= 0xdcff) { out += String.fromCharCode(c - 0xdc00); break; }
        throw new InvalidValue("output", text, "'utf-8' codec can't encode a surrogate");
      default: out += "\\u" + c.toString(16).padStart(4, "0");
    }
  }
  return out;
}

/** Writes the whole text at the file's end. */
export function writeAllSync(fd: number, text: string): void {
  const data = Buffer.from(text, "utf8");
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

export interface AppendOutputOptions {
  /** The configured file, or a format string over the event when formatFilename. */
  file: string;
  formatFilename: boolean;
  encodingErrorsMode: string;
  /** The text to append to a file just opened (descriptor and size given), or null when it needs none. */
  header(fd: number, size: number): string | null;
  /** The text of one event; "" writes nothing. */
  render(event: Event): string;
}

interface OpenFile { fd: number; ino: number; dev: number }

/**
 * An output that appends text per event. Text is buffered in export() and written and synced in
 * flush(), which the runtime calls before it acknowledges the input: nothing is acknowledged that
 * is not on disk. A fixed file is opened at start (an unusable one stops the bot, as in IntelMQ);
 * with formatFilename an unusable file fails only its event.
 */
export function appendOutput(ctx: BotContext, o: AppendOutputOptions): OutputImpl {
  const fixed = o.formatFilename ? null : outputPath(o.file, ctx.rootDir);
  const open = new Map<string, OpenFile>();
  const pending = new Map<string, string[]>();
  /** Files written to since their last sync. */
  const dirty = new Set<OpenFile>();

  function closeFile(path: string): void {
    const f = open.get(path);
    if (!f) return;
    open.delete(path);
    try {
      if (dirty.delete(f)) fdatasyncSync(f.fd); // what was written must not be lost with the descriptor
    } finally {
      closeSync(f.fd);
    }
  }

  /** Opens (creating directories) and writes the header the file needs, as IntelMQ on every open. */
  function openFile(path: string): OpenFile {
    let fd: number;
    try {
      fd = openSync(path, "a+", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      fd = openSync(path, "a+", 0o644);
    }
    const st = fstatSync(fd);
    const f = { fd, ino: st.ino, dev: st.dev };
    try {
      const header = o.header(fd, st.size);
      if (header) {
        writeAllSync(fd, header);
        dirty.add(f);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    open.set(path, f);
    ctx.log.info({ file: path }, `File ${JSON.stringify(path)} is open.`);
    return f;
  }

  /** The open file for path; with `check`, reopened when it was moved or deleted (rotation). */
  function fileFor(path: string, check: boolean): OpenFile {
    const f = open.get(path);
    if (!f) return openFile(path);
    if (!check) return f;
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && st.ino === f.ino && st.dev === f.dev) return f;
    closeFile(path);
    return openFile(path);
  }

  if (fixed) openFile(fixed);

  return {
    export(event: Event): void {
      const path = fixed ?? eventFilename(o.file, event, ctx.rootDir);
      fileFor(path, false); // an unusable file fails this event, not the whole input
      const lines = o.render(event);
      if (!lines) return;
      const text = encodeErrors(lines, o.encodingErrorsMode);
      const list = pending.get(path);
      if (list) list.push(text); else pending.set(path, [text]);
    },
    async flush(): Promise<void> {
      try {
        for (const [path, chunks] of pending) {
          const f = fileFor(path, true);
          writeAllSync(f.fd, chunks.join(""));
          dirty.add(f);
          pending.delete(path);
        }
      } catch (err) {
        // the input is retried and its events exported again
        pending.clear();
        throw err;
      }
      const files = [...dirty];
      dirty.clear();
      try {
        await Promise.all(files.map((f) => new Promise<void>((res, rej) => fdatasync(f.fd, (err) => (err ? rej(err) : res())))));
      } catch (err) {
        for (const f of files) dirty.add(f);
        throw err;
      }
      // IntelMQ keeps one file open: close the others once synced
      if (open.size > 1) {
        const last = [...open.keys()].pop();
        for (const path of [...open.keys()]) if (path !== last && !pending.has(path)) closeFile(path);
      }
    },
    shutdown(): void {
      // Unacknowledged events come again: what is pending is dropped, not written twice.
      pending.clear();
      for (const path of [...open.keys()]) {
        try {
          closeFile(path);
        } catch (err) {
          ctx.log.warn({ err, file: path }, "Could not sync the file on shutdown.");
        }
      }
    },
  };
}
