// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What the output bots that write files share: IntelMQ's paths (/opt/intelmq/... and relative
 * paths under INTELMQ_ROOT_DIR), file names formatted from the event (format_filename), Python's
 * encoding error handlers, and appendOutput(): text appended per event, each input's bytes
 * exactly once, synced before the input is acknowledged, files reopened when rotated, a header
 * written when a file needs one.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, statSync, truncateSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { InvalidArgument, InvalidValue } from "../errors/index.js";
import { ByteSink, type Event } from "../message/index.js";
import { PyDateTime, pyFormat } from "./pyformat.js";
import type { BotContext, InputRef, OutputImpl } from "./types.js";
import { Journal } from "./journal.js";

/** IntelMQ's installation root: paths under it are taken under INTELMQ_ROOT_DIR. */
export const INTELMQ_ROOT = "/opt/intelmq";

/** Python's `errors` modes of open(), as IntelMQ's file outputs accept them. */
export const encodingErrorsMode = () =>
  z.enum(["strict", "ignore", "replace", "backslashreplace", "xmlcharrefreplace", "surrogateescape", "namereplace"])
    .default("strict").describe("What to do with text that cannot be encoded as UTF-8 (Python's `errors` of open())");

/** A configured path: /opt/intelmq/... and relative paths under INTELMQ_ROOT_DIR. */
export function outputPath(file: string, rootDir: string): string {
  let f = file;
  if (f === INTELMQ_ROOT || f.startsWith(INTELMQ_ROOT + "/")) {
    f = join(rootDir, f.slice(INTELMQ_ROOT.length));
    if (!inside(f, rootDir)) throw new InvalidArgument("file", file, `a path inside ${INTELMQ_ROOT}`);
    return f;
  }
  if (isAbsolute(f)) return f;
  const out = join(rootDir, f);
  // A relative path stays under the root: an absolute one is the operator's explicit choice.
  if (!inside(out, rootDir)) throw new InvalidArgument("file", file, "a relative path inside INTELMQ_ROOT_DIR (or an absolute path)");
  return out;
}

function inside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** A field's value as part of a file name: it cannot leave the directory (no separators, no `..`). */
function pathSafe(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const s = v.replace(/[/\\\0]/g, "_");
  return s === "." || s === ".." ? s.replace(/\./g, "_") : s;
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
    return pathSafe(v);
  };
  const path = outputPath(pyFormat(template, { event: lookup }), rootDir);
  // Also the directory the template names before its first field stays the directory written into.
  const fixed = template.slice(0, template.indexOf("{") < 0 ? template.length : template.indexOf("{"));
  const base = outputPath(fixed.slice(0, fixed.lastIndexOf("/") + 1) || ".", rootDir);
  if (!inside(path, base)) throw new InvalidValue(param, path, `a file under ${base}: the event's fields may not lead out of it`);
  return path;
}

/** Applies Python's encoding error handlers to text with lone surrogates (the only unencodable JS text). */
export function encodeErrors(text: string, mode: string): string {
  // isWellFormed(): no lone surrogate, checked without a Unicode regex over the whole batch
  if ((text as unknown as { isWellFormed(): boolean }).isWellFormed()) return text;
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

/** Writes the whole text (or bytes) at the file's end. */
export function writeAllSync(fd: number, text: string | Buffer): void {
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
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
  /**
   * Optional: the same text as bytes at the end of `sink` where that needs no string (an event
   * that writes as plain ASCII JSON); false, with nothing written, to take render() instead.
   */
  renderInto?(event: Event, sink: ByteSink): boolean;
}

interface OpenFile { fd: number; ino: number; dev: number }

/** A journal record: input `k` appends `n` bytes at offset `o` of `f` (inode `i`). */
interface Append { k: string; f: string; o: number; n: number; i: number }

/** Inputs whose writes are known complete, remembered at most (only unacknowledged ones can come again). */
const WRITTEN_MEMORY = 10_000;

/**
 * An output that appends text per event, each input's bytes exactly once. Text is buffered in
 * export() and written in flush(input), which the runtime calls before it acknowledges the input.
 * Before writing, the input's key, file, offset and length are synced to a journal in the bot's
 * state directory; the data is then written and synced. An input that comes again (a crash or a
 * lost ack) finds its write in the journal and is not written twice; a write a crash cut short is
 * truncated at start and written again when its input comes back. A failed write is truncated
 * at once and stays pending for the retry. A fixed file is opened at start (an unusable one stops
 * the bot, as in IntelMQ); with formatFilename an unusable file fails only its event.
 */
export function appendOutput(ctx: BotContext, o: AppendOutputOptions): OutputImpl {
  const fixed = o.formatFilename ? null : outputPath(o.file, ctx.rootDir);
  const open = new Map<string, OpenFile>();
  // An input's text per file, as UTF-8 bytes: each event's line is written there as it is
  // rendered, so no string waits for the flush on the heap (a thousand lines per input were most
  // of what the garbage collector of an output had to move).
  const pending = new Map<string, ByteSink>();
  /** input key -> files whose append of it is complete */
  const written = new Map<string, Set<string>>();
  const journal = ctx.testing ? null : new Journal<Append>(join(ctx.stateDir, "output.journal"));
  if (journal) recover(journal.records);

  function markWritten(k: string, f: string): void {
    let s = written.get(k);
    if (!s) {
      written.set(k, (s = new Set()));
      if (written.size > WRITTEN_MEMORY) written.delete(written.keys().next().value!);
    }
    s.add(f);
  }

  /**
   * Which journaled appends are complete. Files only grow, so an append is complete when the next
   * append to the same file began at or after its end; one that a crash cut (or a failed write
   * undid) is followed by an append at its own offset. The last append to a file is judged by the
   * file's size, and a cut one is truncated to where it began. Judging only the newest input (as
   * if every older one were done) lost an input whose cut write was followed by others before it
   * came again and by a second crash.
   */
  function recover(records: readonly Append[]): void {
    const byFile = new Map<string, Append[]>();
    for (const r of records) {
      const id = `${r.i}:${r.f}`;
      const list = byFile.get(id);
      if (list) list.push(r); else byFile.set(id, [r]);
    }
    const complete = new Set<Append>();
    for (const list of byFile.values()) {
      for (let j = 0; j < list.length - 1; j++) {
        const r = list[j]!;
        if (list[j + 1]!.o >= r.o + r.n) complete.add(r);
      }
      const r = list[list.length - 1]!;
      const st = statSync(r.f, { throwIfNoEntry: false });
      // A rotated or removed file: what was written went with it.
      if (!st || st.ino !== r.i || st.size >= r.o + r.n) { complete.add(r); continue; }
      if (st.size > r.o) {
        truncateSync(r.f, r.o);
        ctx.log.warn({ file: r.f }, `Cut ${st.size - r.o} bytes of an interrupted write from ${JSON.stringify(r.f)}; they are written again when their input comes back.`);
      }
    }
    // In journal order, so that the memory of written inputs keeps the newest
    for (const r of records) if (complete.has(r)) markWritten(r.k, r.f);
  }

  function closeFile(path: string): void {
    const f = open.get(path);
    if (!f) return;
    open.delete(path);
    closeSync(f.fd);
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
        fdatasyncSync(fd);
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
      // A file named by the event that cannot be opened fails this event, not the whole input;
      // the fixed file is looked at in flush(), where a failure is the input's, retried as a whole.
      if (!fixed) fileFor(path, false);
      let acc = pending.get(path);
      if (o.renderInto) {
        if (!acc) pending.set(path, (acc = new ByteSink()));
        if (o.renderInto(event, acc)) return;
      }
      const lines = o.render(event);
      if (!lines) return;
      const text = encodeErrors(lines, o.encodingErrorsMode);
      if (!acc) pending.set(path, (acc = new ByteSink()));
      acc.text(text);
    },
    async flush(input: InputRef): Promise<void> {
      const done = written.get(input.key);
      const todo: { path: string; f: OpenFile; data: Buffer; rec: Append }[] = [];
      for (const [path, acc] of pending) {
        if (done?.has(path) || acc.length === 0) {
          // Written before this input came again: its bytes are in the file already.
          pending.delete(path);
          continue;
        }
        const f = fileFor(path, true);
        const data = acc.bytes();
        todo.push({ path, f, data, rec: { k: input.key, f: path, o: fstatSync(f.fd).size, n: data.length, i: f.ino } });
      }
      if (!todo.length) return;
      journal?.append(todo.map((t) => t.rec));
      for (const t of todo) {
        try {
          writeAllSync(t.f.fd, t.data);
        } catch (err) {
          // Undo the part that was written; the text stays pending for the retry.
          try { ftruncateSync(t.f.fd, t.rec.o); } catch { /* cut at the next start, from the journal */ }
          throw err;
        }
      }
      await Promise.all(todo.map((t) => new Promise<void>((res, rej) => fdatasync(t.f.fd, (err) => (err ? rej(err) : res())))));
      for (const t of todo) {
        pending.delete(t.path);
        markWritten(input.key, t.path);
      }
      // IntelMQ keeps one file open: close the others once synced
      if (open.size > 1) {
        const last = todo[todo.length - 1]!.path;
        for (const path of [...open.keys()]) if (path !== last && path !== fixed) closeFile(path);
      }
    },
    discard(): void {
      pending.clear();
    },
    shutdown(): void {
      // Unacknowledged events come again: what is pending is dropped, not written.
      pending.clear();
      for (const path of [...open.keys()]) closeFile(path);
      journal?.close();
    },
  };
}

