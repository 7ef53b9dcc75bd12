// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The envelope encoder for what our bots mostly send: flat items of ASCII strings, numbers and
 * booleans. It writes the very bytes msgpackr's Packr({ useRecords: true, bundleStrings: true })
 * writes for them, so that any msgpackr reader (ours included) decodes them unchanged, in about
 * half msgpackr's time: an item's keys are compared with the previous item's instead of walked
 * through msgpackr's transition tree, and strings are checked for ASCII once per bundle instead
 * of by a regular expression each. Anything else (other types, non-ASCII text, more than 64
 * shapes) answers null and is packed by msgpackr itself.
 *
 * msgpackr's layout, as written here:
 *  - a record's first item: fixext 1 "r" (0xd4 0x72) and its id (0x40 up, one per shape, in
 *    order of first use), then the array of its keys, then the values; later items: the id byte;
 *  - strings of 4 to 4095 characters go to a bundle: 0xc1 and the length are written in place,
 *    the characters appended to the bundle; strings of other lengths are plain msgpack strings;
 *  - the first bundled string is preceded by fixext 4 "b" (0xd6 0x62) holding the distance from
 *    its data to where the bundle's two strings (non-Latin, then Latin) are written: at the end,
 *    or, when a bundle passes 0x5500 characters, in an ext 16 "b" that also opens the next one.
 */

const MAX_BUNDLE = 0x5500;
const MAX_SHAPES = 64;
const FIRST_RECORD = 0x40;
/** A bundled string's length range, as msgpackr has it. */
const BUNDLE_MIN = 4;
const BUNDLE_END = 0x1000;
/** Packs are written one after another into a slab and returned as views of it, as msgpackr does. */
const SLAB = 256 * 1024;

let out = Buffer.allocUnsafeSlow(SLAB);
let start = 0;
let pos = 0;
/** The open bundle (all ASCII when the pack ends well), its size as msgpackr counts it, and where its reference is (from the pack's start). */
let bundle = "";
let bundleSize = 0;
let bundleRef = -1;
let shapes: string[][] = [];
let lastShape = -1;

/** Room for `n` more bytes: the pack so far moves to a new slab when this one is full. */
function room(n: number): void {
  if (pos + n <= out.length) return;
  const fresh = Buffer.allocUnsafeSlow(Math.max(SLAB, 2 * (pos - start + n)));
  out.copy(fresh, 0, start, pos);
  pos -= start;
  start = 0;
  out = fresh;
}

/** Items packed as msgpackr packs them, or null where this encoder does not know how (see above). */
export function packItems(items: readonly Readonly<Record<string, unknown>>[]): Uint8Array | null {
  if (out.length - pos < SLAB / 8) {
    out = Buffer.allocUnsafeSlow(SLAB);
    pos = 0;
  }
  start = pos;
  bundle = "";
  bundleSize = Infinity; // as msgpackr: the first bundled string opens the first bundle
  bundleRef = -1;
  shapes = [];
  lastShape = -1;
  try {
    room(5);
    arrayHeader(items.length);
    for (let i = 0; i < items.length; i++) {
      if (!item(items[i]!)) {
        pos = start;
        return null;
      }
    }
    if (bundleRef >= 0 && !closeBundle()) {
      pos = start;
      return null;
    }
    return out.subarray(start, pos);
  } catch (err) {
    pos = start;
    throw err;
  } finally {
    shapes = [];
    bundle = "";
  }
}

function arrayHeader(n: number): void {
  if (n < 0x10) out[pos++] = 0x90 | n;
  else if (n < 0x10000) {
    out[pos++] = 0xdc;
    out[pos++] = n >> 8;
    out[pos++] = n & 0xff;
  } else {
    out[pos++] = 0xdd;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
}

function item(m: Readonly<Record<string, unknown>>): boolean {
  // msgpackr writes records for plain objects only
  if (typeof m !== "object" || m === null || m.constructor !== Object) return false;
  if (lastShape >= 0) {
    // Most items have the previous item's shape: its values are written as its keys are compared,
    // in one pass; an item that turns out to differ is taken back and written below.
    const keys = shapes[lastShape]!;
    const at = pos - start, openBundleText = bundle, openBundleSize = bundleSize, openBundleRef = bundleRef;
    room(1);
    out[pos++] = FIRST_RECORD + lastShape;
    let i = 0;
    for (const k in m) {
      if (i >= keys.length || keys[i] !== k) { i = -1; break; }
      i++;
      if (!value(m[k])) return false;
    }
    if (i === keys.length) return true;
    // a bundle opened meanwhile wrote its strings and its reference, both rewritten when it closes
    pos = start + at;
    bundle = openBundleText;
    bundleSize = openBundleSize;
    bundleRef = openBundleRef;
  }
  const id = shapeOf(m);
  if (id < 0) {
    if (shapes.length >= MAX_SHAPES) return false;
    const keys: string[] = [];
    for (const k in m) keys.push(k);
    shapes.push(keys);
    lastShape = shapes.length - 1;
    room(3);
    out[pos++] = 0xd4;
    out[pos++] = 0x72;
    out[pos++] = FIRST_RECORD + lastShape;
    room(5);
    arrayHeader(keys.length);
    for (const k of keys) if (!value(k)) return false;
  } else {
    room(1);
    out[pos++] = FIRST_RECORD + id;
  }
  for (const k in m) if (!value(m[k])) return false;
  return true;
}

/** The index of the item's shape (its keys in order) among those defined, -1 if new. */
function shapeOf(m: Readonly<Record<string, unknown>>): number {
  for (let s = 0; s < shapes.length; s++) {
    if (s !== lastShape && sameKeys(m, shapes[s]!)) return (lastShape = s);
  }
  return -1;
}

function sameKeys(m: Readonly<Record<string, unknown>>, keys: readonly string[]): boolean {
  let i = 0;
  for (const k in m) if (i >= keys.length || keys[i++] !== k) return false;
  return i === keys.length;
}

function value(v: unknown): boolean {
  switch (typeof v) {
    case "string": return str(v);
    case "number": number(v); return true;
    case "boolean":
      room(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return true;
    default: return false;
  }
}

function str(s: string): boolean {
  const n = s.length;
  if (n >= BUNDLE_MIN && n < BUNDLE_END) {
    if ((bundleSize += n) > MAX_BUNDLE && !openBundle()) return false;
    bundle += s;
    room(1);
    out[pos++] = 0xc1;
    number(n); // the length in characters, as msgpackr writes an int
    return true;
  }
  if (n < BUNDLE_MIN) {
    room(1 + n);
    out[pos++] = 0xa0 | n;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      out[pos++] = c;
    }
    return true;
  }
  return plainAscii(s);
}

/**
 * An ASCII string as a plain msgpack string; false if it is not ASCII. Written as UTF-8, which
 * takes one byte a character exactly when all are ASCII: the check costs no extra pass.
 */
function plainAscii(s: string): boolean {
  const n = s.length;
  room(5 + 3 * n);
  if (n < 0x20) out[pos++] = 0xa0 | n;
  else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xda;
    out[pos++] = n >> 8;
    out[pos++] = n & 0xff;
  } else {
    out[pos++] = 0xdb;
    out.writeUInt32BE(n, pos);
    pos += 4;
  }
  const written = out.write(s, pos, "utf8");
  pos += n;
  return written === n;
}

/**
 * A new bundle before the string that overflowed the open one: the first is only a reference,
 * later ones also carry the previous bundle's strings. The new bundle's size starts at 0, the
 * string that opened it not counted (as msgpackr counts).
 */
function openBundle(): boolean {
  if (bundleRef < 0) {
    room(6);
    out[pos++] = 0xd6;
    out[pos++] = 0x62;
    bundleRef = pos - start;
    pos += 4;
  } else {
    room(7);
    out[pos++] = 0xc8;
    const lengthAt = pos - start; // offsets from the pack's start: closeBundle() may move it to a new slab
    pos += 2;
    out[pos++] = 0x62;
    const ref = pos - start;
    pos += 4;
    if (!closeBundle()) return false;
    out.writeUInt16BE(pos - start - ref, start + lengthAt);
    bundleRef = ref;
  }
  bundle = "";
  bundleSize = 0;
  return true;
}

/** The open bundle's strings written here and its reference pointed at them; false if it is not ASCII. */
function closeBundle(): boolean {
  out.writeUInt32BE(pos - start - bundleRef, start + bundleRef);
  room(1);
  out[pos++] = 0xa0; // the non-Latin bundle: empty
  return plainAscii(bundle);
}

function number(v: number): void {
  room(9);
  if (v >>> 0 === v) {
    // below 0x40 a fixint: record ids take 0x40-0x7f
    if (v < 0x40) out[pos++] = v;
    else if (v < 0x100) {
      out[pos++] = 0xcc;
      out[pos++] = v;
    } else if (v < 0x10000) {
      out[pos++] = 0xcd;
      out[pos++] = v >> 8;
      out[pos++] = v & 0xff;
    } else {
      out[pos++] = 0xce;
      out.writeUInt32BE(v, pos);
      pos += 4;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[pos++] = 0x100 + v;
    else if (v >= -0x80) {
      out[pos++] = 0xd0;
      out[pos++] = v + 0x100;
    } else if (v >= -0x8000) {
      out[pos++] = 0xd1;
      out.writeInt16BE(v, pos);
      pos += 2;
    } else {
      out[pos++] = 0xd2;
      out.writeInt32BE(v, pos);
      pos += 4;
    }
  } else {
    out[pos++] = 0xcb;
    out.writeDoubleBE(v, pos);
    pos += 8;
  }
}
