// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A report's raw as text, a window at a time: decoded from the base64 of an inline raw, or from the
 * bytes of a raw streamed from the object store (see message/streamed.ts). A parser that reads the
 * raw only this way never holds a large report whole, and is marked `streamsRaw`.
 */
import { rawSource, type Report } from "../message/index.js";
import { LINE_SPLIT } from "./util.js";

/** Base64 characters of an inline raw decoded at a time: a multiple of 4. */
const RAW_CHUNK = 256 * 1024;
/** Bytes decoded at a time: the strings stay small young objects, freed by the cheap collections. */
const PIECE = 32 * 1024;
/** Characters a window holds at least before it is cut (after a line break). */
const WINDOW = 64 * 1024;
/** An inline raw of up to this many bytes is one window, read without a promise per item. */
const WHOLE_MAX = 1024 * 1024;

/** A piece of the decoded raw, ending after a line break ("\n", else "\r"), or at the end (`last`). */
export interface RawWindow { text: string; last: boolean }

export interface WindowOptions {
  /**
   * Bytes that are not UTF-8: "replace" with U+FFFD (default, as a decoder), or "drop" them
   * (IntelMQ's CSV parser, which decodes with errors ignored).
   */
  invalid?: "replace" | "drop";
}

/** The base64 of an inline raw decoded a chunk at a time. */
function* inlineBytes(report: Report): Generator<Uint8Array> {
  const raw = report.get("raw");
  if (typeof raw !== "string") return;
  for (let off = 0; off < raw.length; off += RAW_CHUNK) yield Buffer.from(raw.slice(off, off + RAW_CHUNK), "base64");
}

/** Bytes at the end of `b` that begin a character the next bytes complete. */
function incompleteTail(b: Uint8Array): number {
  const n = b.length;
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const c = b[i]!;
    if ((c & 0xc0) === 0x80) continue;
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return n - i < need ? n - i : 0;
  }
  return 0;
}

// A BOM inside the text is a character like any other: only the one at the very start goes.
const replacing = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

function decode(bytes: Uint8Array, invalid: "replace" | "drop"): string {
  if (invalid === "replace") return replacing.decode(bytes);
  try {
    return strict.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8").replaceAll("\uFFFD", "");
  }
}

/** Decoded text cut into windows as bytes come in: the same for inline and streamed raws. */
class WindowCutter {
  #carry: Uint8Array | null = null;
  #text = "";
  #first = true;

  constructor(private readonly invalid: "replace" | "drop") {}

  /** The windows complete once `chunk` is added. */
  *push(chunk: Uint8Array): Generator<RawWindow> {
    for (let off = 0; off < chunk.length; off += PIECE) {
      let bytes = chunk.subarray(off, off + PIECE);
      if (this.#carry) {
        bytes = Buffer.concat([this.#carry, bytes]);
        this.#carry = null;
      }
      const tail = incompleteTail(bytes);
      if (tail) {
        this.#carry = bytes.slice(bytes.length - tail);
        bytes = bytes.subarray(0, bytes.length - tail);
      }
      let piece = decode(bytes, this.invalid);
      if (this.#first && piece !== "") {
        if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1);
        this.#first = false;
      }
      this.#text += piece;
      if (this.#text.length < WINDOW) continue;
      const text = this.#text;
      let cut = text.lastIndexOf("\n") + 1;
      if (cut === 0) {
        // No "\n" at all: cut after a "\r" that is not the last character (it may be the half of "\r\n").
        const r = text.lastIndexOf("\r", text.length - 2);
        cut = r === -1 ? 0 : r + 1;
      }
      if (cut === 0) continue; // one line longer than a window: it grows
      yield { text: text.slice(0, cut), last: false };
      this.#text = text.slice(cut);
    }
  }

  /** The last window (possibly empty). */
  end(): RawWindow {
    if (this.#carry) this.#text += decode(this.#carry, this.invalid);
    return { text: this.#text, last: true };
  }
}

/** The decoded raw in windows of about 64 KiB; a raw of less than that is one window. */
export async function* reportWindows(report: Report, opts: WindowOptions = {}): AsyncGenerator<RawWindow> {
  const src = rawSource(report);
  if (!src) {
    yield* inlineWindows(report, opts);
    return;
  }
  const cutter = new WindowCutter(opts.invalid ?? "replace");
  for await (const chunk of src.chunks()) yield* cutter.push(chunk);
  yield cutter.end();
}

/** reportWindows() of an inline raw, without a promise per window. */
export function* inlineWindows(report: Report, opts: WindowOptions = {}): Generator<RawWindow> {
  const cutter = new WindowCutter(opts.invalid ?? "replace");
  for (const chunk of inlineBytes(report)) yield* cutter.push(chunk);
  yield cutter.end();
}

/** The decoded text of an inline raw, whole. */
function inlineText(report: Report, invalid: "replace" | "drop"): string {
  const raw = report.get("raw");
  if (typeof raw !== "string" || raw === "") return "";
  const text = decode(Buffer.from(raw, "base64"), invalid);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * `each` over the windows of the raw: a plain iterable when the raw is one window (a small
 * inline raw, read without a promise per item), else an async one.
 */
export function overWindows<T>(report: Report, each: (w: RawWindow) => Iterable<T>, opts: WindowOptions = {}): Iterable<T> | AsyncIterable<T> {
  if (!isLargeRaw(report)) return each({ text: inlineText(report, opts.invalid ?? "replace"), last: true });
  return (async function* () {
    for await (const w of reportWindows(report, opts)) yield* each(w);
  })();
}

/** Whether the raw is read in windows (streamed, or inline and longer than WHOLE_MAX). */
export function isLargeRaw(report: Report): boolean {
  if (rawSource(report)) return true;
  const raw = report.get("raw");
  return typeof raw === "string" && raw.length > (WHOLE_MAX / 3) * 4;
}

/**
 * The lines of the decoded raw (Python's str.splitlines() boundaries), a window at a time: the
 * counterpart of rawLines() that also reads a streamed raw (then async).
 */
export function reportLines(report: Report): Iterable<string> | AsyncIterable<string> {
  return overWindows(report, windowLines);
}

/** The lines of one window. */
export function* windowLines({ text }: RawWindow): Generator<string> {
  const split = new RegExp(LINE_SPLIT.source, "g");
  let start = 0;
  for (let m = split.exec(text); m; m = split.exec(text)) {
    yield text.slice(start, m.index);
    start = m.index + m[0].length;
  }
  // A window other than the last ends at a line break: only the last has a rest.
  if (start < text.length) yield text.slice(start);
}
