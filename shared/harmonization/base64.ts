// SPDX-License-Identifier: AGPL-3.0-only
/** Python's lenient base64 (binascii, utils.base64_decode/encode), for the Base64 type and raw fields. */
import { decodeBytes } from "./py.js";

const B64_TABLE = new Int8Array(128).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => { B64_TABLE[c.charCodeAt(0)] = i; });

/** Whether Python's base64.b64decode (non-strict) accepts the text. */
export function b64Decodable(s: string): boolean {
  if ((s.length & 3) === 0 && canonical(s)) return true;
  return b64Walk(s, null) !== null;
}

/**
 * Alphabet characters only, then at most two '=' at the end (length a multiple of 4 checked by
 * the caller). Long text (a report's raw) is decoded natively a slice at a time and its length
 * compared with what it must give: Node skips what is no base64 and stops at '=', so anything
 * else comes out shorter. Its decoder also takes '-' and '_' (base64url) and reads a character
 * above 0xff by its low byte: text with those goes to the loop, which says no. ~9x faster than
 * the loop on a 200 KB raw (2 ns a character here).
 */
export function canonical(s: string): boolean {
  const n = s.length;
  if (n < NATIVE_FROM || Buffer.byteLength(s, "utf8") !== n || s.includes("-") || s.includes("_")) return canonicalLoop(s);
  for (let at = 0; at < n; at += SLICE) {
    const last = n - at <= SLICE;
    const part = at === 0 && last ? s : s.slice(at, last ? n : at + SLICE);
    const pads = !last ? 0 : part.endsWith("==") ? 2 : part.endsWith("=") ? 1 : 0;
    if (Buffer.from(part, "base64").length !== (part.length / 4) * 3 - pads) return false;
  }
  return true;
}

/** Text shorter than this is checked by the loop (the native call costs more). */
const NATIVE_FROM = 1024;
/** Characters decoded at once (a multiple of 4): a large raw is never copied whole. */
const SLICE = 1 << 20;

/**
 * The loop (not a regular expression: a report's raw is checked once, and V8 runs a regular
 * expression used that rarely in its interpreter, at about six times the cost).
 */
function canonicalLoop(s: string): boolean {
  let end = s.length;
  if (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  if (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || B64_TABLE[c]! < 0) return false;
  }
  return true;
}

/** @internal the loop, for the test that compares the two */
export const canonicalByLoop = canonicalLoop;

/** binascii.a2b_base64 (non-strict): the bytes, or null where Python raises binascii.Error. */
function b64Walk(s: string, out: number[] | null): number[] | null | true {
  let quad = 0, pads = 0, left = 0;
  const bytes = Buffer.from(s, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 61) {
      if (quad >= 2 && quad + ++pads >= 4) return out ?? true;
      continue;
    }
    const v = c < 128 ? B64_TABLE[c]! : -1;
    if (v < 0) continue;
    pads = 0;
    switch (quad) {
      case 0: quad = 1; left = v; break;
      case 1: quad = 2; out?.push((left << 2) | (v >> 4)); left = v & 0x0f; break;
      case 2: quad = 3; out?.push((left << 4) | (v >> 2)); left = v & 0x03; break;
      case 3: quad = 0; out?.push((left << 6) | v); left = 0; break;
    }
  }
  return quad === 0 ? (out ?? true) : null;
}

/** utils.base64_decode: Python's lenient base64 decoding to text (invalid UTF-8 dropped). Throws on bad padding. */
export function base64Decode(value: string | Uint8Array): string {
  const s = typeof value === "string" ? value : Buffer.from(value).toString("latin1");
  const out = b64Walk(s, []);
  if (out === null) throw new Error("Incorrect padding");
  return decodeBytes(Uint8Array.from(out as number[]));
}

/** utils.base64_encode of a str (UTF-8) or bytes. */
export function base64Encode(value: string | Uint8Array): string {
  if (typeof value === "string" && value.length <= SCRATCH_CHARS) {
    // a line's raw, the common case: its bytes in a reused buffer, not a new one per call
    const n = encodeScratch.write(value, 0, "utf8");
    return encodeScratch.toString("base64", 0, n);
  }
  return (typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value)).toString("base64");
}

/** Strings up to this many UTF-16 units (at most 3 bytes each in UTF-8) are encoded through encodeScratch. */
const SCRATCH_CHARS = 4096;
const encodeScratch = Buffer.allocUnsafe(SCRATCH_CHARS * 3);
