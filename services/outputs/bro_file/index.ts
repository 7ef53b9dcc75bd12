// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Bro file output: appends the IP address, domain and URL of every event as indicators to a Bro
 * (Zeek) Intel framework file (IntelMQ's intelmq.bots.outputs.bro_file.output). A file whose first
 * line is not the #fields header gets it appended, as in IntelMQ. Lines are buffered and written,
 * then synced to disk, in flush(), which the runtime calls before it acknowledges the input:
 * nothing is acknowledged that is not on disk.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import { PyDateTime, defineBot, outputParams, p, pyFormat } from "../../../shared/runtime/index.js";
import type { BotContext, OutputImpl } from "../../../shared/runtime/index.js";
import type { Event } from "../../../shared/message/index.js";
import { InvalidArgument, InvalidValue } from "../../../shared/errors/index.js";

const INTELMQ_ROOT = "/opt/intelmq";
const UNUSED = "Accepted as in IntelMQ; has no effect on the intel file";

export const params = z.object({
  file: z.string().default(`${INTELMQ_ROOT}/var/lib/bots/file-output/bro`)
    .describe("Intel file to append to; /opt/intelmq/ at its start means the project's root (INTELMQ_ROOT_DIR)"),
  format_filename: p.bool().default(false)
    .describe("Treat `file` as a Python format string over the event, e.g. /data/{event[time.source]:%Y-%m-%d}.intel"),
  encoding_errors_mode: z.enum(["strict", "ignore", "replace", "backslashreplace", "xmlcharrefreplace", "surrogateescape", "namereplace"])
    .default("strict").describe("What to do with text that cannot be encoded as UTF-8 (Python's `errors` of open())"),
  hierarchical_output: outputParams.hierarchical_output.describe(UNUSED),
  message_with_type: outputParams.message_with_type.describe(UNUSED),
  message_jsondict_as_string: outputParams.message_jsondict_as_string.describe(UNUSED),
  single_key: outputParams.single_key.describe(UNUSED),
  keep_raw_field: outputParams.keep_raw_field.describe(UNUSED),
}).strict();

export type Params = z.infer<typeof params>;

export const BRO_HEADER = "#fields\tindicator\tindicator_type\tmeta.desc\tmeta.cif_confidence\tmeta.source\n";

/** Event fields written as indicators, in this order, with their Intel framework types. */
const INDICATORS: readonly (readonly [string, string])[] = [
  ["source.ip", "Intel::ADDR"],
  ["source.fqdn", "Intel::DOMAIN"],
  ["source.url", "Intel::URL"],
];

/** Python's `"apt" in value` for a value of extra.tags: list member, substring or dict key. */
function hasApt(tags: unknown): boolean {
  if (Array.isArray(tags)) return tags.includes("apt");
  if (typeof tags === "string") return tags.includes("apt");
  if (tags !== null && typeof tags === "object") return Object.hasOwn(tags, "apt");
  throw new TypeError(`argument of type '${tags === null ? "NoneType" : typeof tags}' is not iterable`);
}

function required(event: Event, key: string): unknown {
  if (!event.has(key)) throw new Error(`KeyError: '${key}'`);
  return event.get(key);
}

function text(key: string, v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`can only concatenate str (not "${typeof v}") to str: ${key}`);
  return v;
}

/**
 * One intel line per indicator the event has, and the first indicator type missing before any
 * present one (IntelMQ logs that one). Description: "apt" when extra.tags holds it, else
 * classification.type; confidence: feed.accuracy as an integer; source: extra.orgc, else feed.provider.
 */
export function broLines(event: Event): { lines: string; missing: string | null } {
  let lines = "";
  let missing: string | null = null;
  for (const [key, type] of INDICATORS) {
    const value = event.get(key);
    if (!value) {
      if (!lines && missing === null) missing = key;
      continue;
    }
    const desc = event.has("extra.tags") && hasApt(event.get("extra.tags")) ? "apt" : text("classification.type", required(event, "classification.type"));
    const accuracy = Math.trunc(Number(required(event, "feed.accuracy")));
    let source = "";
    if (event.has("extra.orgc")) source = text("extra.orgc", event.get("extra.orgc"));
    else if (event.has("feed.provider")) source = text("feed.provider", event.get("feed.provider"));
    lines += `${text(key, value)}\t${type}\t${desc}\t${accuracy}\t${source}\n`;
  }
  return { lines, missing };
}

/** Applies Python's encoding error handlers to text with lone surrogates (the only text UTF-8 cannot encode). */
function encodeErrors(text: string, mode: string): string {
  if (!/\p{Cs}/u.test(text)) return text;
  if (mode === "strict") throw new InvalidValue("output", text, "'utf-8' codec can't encode a surrogate: surrogates not allowed");
  // with the u flag only unpaired surrogates match
  return text.replace(/\p{Cs}/gu, (c) => {
    const code = c.charCodeAt(0);
    switch (mode) {
      case "ignore": return "";
      case "replace": return "?";
      case "xmlcharrefreplace": return `&#${code};`;
      case "surrogateescape":
        if (code >= 0xdc80 && code <= 0xdcff) return String.fromCharCode(code - 0xdc00);
        throw new InvalidValue("output", text, "'utf-8' codec can't encode a surrogate");
      default: return "\\u" + code.toString(16).padStart(4, "0");
    }
  });
}

interface OpenFile { fd: number; ino: number; dev: number }

function create(prm: Params, ctx: BotContext): OutputImpl {
  const resolve = (file: string): string => {
    let f = file;
    if (f === INTELMQ_ROOT || f.startsWith(INTELMQ_ROOT + "/")) f = join(ctx.rootDir, f.slice(INTELMQ_ROOT.length));
    return isAbsolute(f) ? f : join(ctx.rootDir, f);
  };
  const fixed = prm.format_filename ? null : resolve(prm.file);
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

  /** Opens (creating directories) and appends the header unless the first line is it, as IntelMQ on every open. */
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
    if (firstLine(fd, st.size) !== BRO_HEADER) {
      try {
        writeAll(fd, BRO_HEADER);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      dirty.add(f);
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

  function filenameFor(event: Event): string {
    if (fixed) return fixed;
    const keys = new Set(event.keys());
    const lookup = (key: string): unknown => {
      if (!keys.has(key)) throw new InvalidArgument("file", prm.file, `a field present in the event (KeyError: '${key}')`);
      const v = event.get(key);
      if ((key === "time.observation" || key === "time.source") && typeof v === "string") {
        const dt = PyDateTime.fromIso(v);
        if (!dt) throw new InvalidValue(key, v, "does not match format '%Y-%m-%dT%H:%M:%S+00:00'");
        return dt;
      }
      return v;
    };
    return resolve(pyFormat(prm.file, { event: lookup }));
  }

  if (fixed) openFile(fixed); // fail at start if the file cannot be opened, as IntelMQ does

  return {
    export(event: Event): void {
      const path = filenameFor(event);
      fileFor(path, false); // an unusable file fails this event, not the whole input
      const { lines, missing } = broLines(event);
      if (missing !== null) ctx.log.debug(`${missing}Event did not have Bro indicator types.`);
      if (!lines) return;
      const text = encodeErrors(lines, prm.encoding_errors_mode);
      const list = pending.get(path);
      if (list) list.push(text); else pending.set(path, [text]);
    },
    async flush(): Promise<void> {
      try {
        for (const [path, chunks] of pending) {
          const f = fileFor(path, true);
          writeAll(f.fd, chunks.join(""));
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

/** The file's first line with its newline (Python's readline()); "" for an empty file. */
function firstLine(fd: number, size: number): string {
  const buf = Buffer.alloc(Math.min(size, BRO_HEADER.length + 1));
  const n = readSync(fd, buf, 0, buf.length, 0);
  const head = buf.subarray(0, n).toString("utf8");
  const nl = head.indexOf("\n");
  return nl < 0 ? head : head.slice(0, nl + 1);
}

function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, "utf8");
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

export default defineBot({
  kind: "output",
  name: "bro_file",
  intelmq: "intelmq.bots.outputs.bro_file.output",
  description: "Appends event IPs, domains and URLs to a Bro (Zeek) intel file",
  params,
  create,
});
