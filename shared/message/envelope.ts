// SPDX-License-Identifier: AGPL-3.0-only
// The bytes of a NATS message: a msgpack array of IntelMQ's flat dicts, or JSON from other tools.
import { Packr, Unpackr } from "msgpackr";
import { DecodingError } from "../errors/index.js";
import { Message } from "./message.js";
import { packItems } from "./pack.js";

// Records (the keys of a shape once per envelope, not once per event) and bundled strings make an
// envelope a third smaller and its encoding and decoding about twice as fast; each envelope holds
// its own record definitions, so it decodes alone. Tools that are not ours send JSON (see README).
const packr = new Packr({ useRecords: true, bundleStrings: true, moreTypes: false });
const unpackr = new Unpackr({ useRecords: true, mapsAsObjects: true, int64AsType: "number" });

/**
 * Set on envelopes our bots publish: every message in it was serialized from a valid Message, so
 * a receiver takes the values without validating them again. Anything else is validated.
 */
export const HARMONIZED_HEADER = "Intelmq-Harmonized";
const utf8 = new TextDecoder("utf-8", { fatal: true });

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * A report whose raw has at least this many base64 characters travels framed: its raw as plain
 * bytes after the rest, so that a receiver can read the raw a piece at a time (a parser streams it
 * from the object store instead of holding the whole report).
 */
export const FRAME_RAW_MIN = 1024 * 1024;
// 0xc1 is the one byte msgpack never uses: no plain envelope starts with it (and no JSON text).
const FRAME_MAGIC = Buffer.from([0xc1, 0x52, 0x41, 0x57]);
const FRAME_PREFIX = 8; // magic, then the head's length (uint32, big-endian)

/** Encode messages (or flat dicts with __type) into one envelope: a msgpack array of flat dicts. */
export function encodeEnvelope(messages: readonly (Message | Record<string, unknown>)[]): Uint8Array {
  const items = wireItems(messages);
  if (items.length === 1) {
    const framed = frame(items[0]!);
    if (framed) return framed;
  }
  return pack(items);
}

/** A framed envelope of one message with a large raw: magic, head length, head (the message without raw, as an envelope), raw bytes. */
function frame(item: Readonly<Record<string, unknown>>): Uint8Array | null {
  const raw = item.raw;
  if (typeof raw !== "string" || raw.length < FRAME_RAW_MIN || raw.length % 4 !== 0) return null;
  const bytes = Buffer.from(raw, "base64");
  const pad = raw.endsWith("==") ? 2 : raw.endsWith("=") ? 1 : 0;
  // Only canonical base64 is framed: the receiver must get back the very same text.
  if (bytes.length !== (raw.length / 4) * 3 - pad || bytes.toString("base64") !== raw) return null;
  const { raw: _raw, ...rest } = item;
  const head = packr.pack([rest]);
  const out = Buffer.allocUnsafe(FRAME_PREFIX + head.length + bytes.length);
  FRAME_MAGIC.copy(out, 0);
  out.writeUInt32BE(head.length, 4);
  out.set(head, FRAME_PREFIX);
  out.set(bytes, FRAME_PREFIX + head.length);
  return out;
}

/**
 * Where a framed envelope's parts are, from its first bytes: the head (an envelope of the message
 * without its raw) ends at `rawOffset`, where the raw's bytes begin. null: not framed;
 * "short": framed, but `start` does not hold the whole head yet.
 */
export function frameLayout(start: Uint8Array): { headOffset: number; rawOffset: number } | "short" | null {
  if (start.length < FRAME_PREFIX) {
    return start.length > 0 && Buffer.from(start).equals(FRAME_MAGIC.subarray(0, start.length)) ? "short" : null;
  }
  if (!Buffer.from(start.buffer, start.byteOffset, 4).equals(FRAME_MAGIC)) return null;
  const headLength = Buffer.from(start.buffer, start.byteOffset, start.length).readUInt32BE(4);
  return { headOffset: FRAME_PREFIX, rawOffset: FRAME_PREFIX + headLength };
}

/**
 * An envelope in chunks: CHUNKED_MAGIC, then for each chunk its length (uint32, big-endian) and
 * the chunk, itself a plain envelope (a msgpack array). A sender packs the events of an envelope
 * a chunk at a time as they come, and a receiver decodes a chunk at a time, so that an event
 * lives as long as its chunk is worked on: it dies in V8's young generation instead of being
 * copied into the old one with the rest of a thousand-event envelope (shared/runtime/README.md).
 * 0xc1 first, as a frame: no plain envelope and no JSON text starts so.
 */
const CHUNKED_MAGIC = Buffer.from([0xc1, 0x43, 0x48, 0x4b]);
/** The bytes a chunk adds to a chunked envelope besides its own. */
export const CHUNK_OVERHEAD = 4;

/** Encode messages into one chunk: a plain envelope, never framed. */
export function encodeChunk(messages: readonly (Message | Record<string, unknown>)[]): Uint8Array {
  return pack(wireItems(messages));
}

/** msgpackr's bytes: by our encoder for the items it knows (pack.ts), by msgpackr for the rest. */
function pack(items: readonly Readonly<Record<string, unknown>>[]): Uint8Array {
  return packItems(items) ?? packr.pack(items);
}

function wireItems(messages: readonly (Message | Record<string, unknown>)[]): Readonly<Record<string, unknown>>[] {
  const items = new Array<Readonly<Record<string, unknown>>>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    items[i] = m instanceof Message ? m._wire() : m;
  }
  return items;
}

/** One envelope of chunks made by encodeChunk(); a single chunk is a plain envelope as it is. */
export function joinChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = CHUNKED_MAGIC.length;
  for (const c of chunks) n += CHUNK_OVERHEAD + c.length;
  const out = Buffer.allocUnsafe(n);
  CHUNKED_MAGIC.copy(out, 0);
  let at = CHUNKED_MAGIC.length;
  for (const c of chunks) {
    out.writeUInt32BE(c.length, at);
    out.set(c, at + CHUNK_OVERHEAD);
    at += CHUNK_OVERHEAD + c.length;
  }
  return out;
}

/** The chunks of a chunked envelope (views of `data`), null for any other; DecodingError when its lengths do not add up. */
export function envelopeChunks(data: Uint8Array): Uint8Array[] | null {
  if (data.length < CHUNKED_MAGIC.length || data[0] !== 0xc1) return null;
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (!b.subarray(0, CHUNKED_MAGIC.length).equals(CHUNKED_MAGIC)) return null;
  const out: Uint8Array[] = [];
  for (let at = CHUNKED_MAGIC.length; at < b.length;) {
    if (at + CHUNK_OVERHEAD > b.length) throw new DecodingError("truncated chunked envelope", { object: data });
    const n = b.readUInt32BE(at);
    at += CHUNK_OVERHEAD;
    if (n === 0 || at + n > b.length) throw new DecodingError("truncated chunked envelope", { object: data });
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Decode an envelope: msgpack array (chunked or not), or JSON (one object or an array) when contentType is application/json. DecodingError on bad bytes. */
export function decodeEnvelope(data: Uint8Array, contentType?: string): Record<string, unknown>[] {
  let v: unknown;
  const json = contentType !== undefined && /json/i.test(contentType);
  const chunks = json ? null : envelopeChunks(data);
  if (chunks) return chunks.flatMap((c) => decodeEnvelope(c));
  if (json) {
    try {
      v = JSON.parse(utf8.decode(data));
    } catch (err) {
      throw new DecodingError(`invalid JSON: ${(err as Error).message}`, { cause: err, object: data });
    }
  } else {
    if (data.length === 0) throw new DecodingError("empty envelope", { object: data });
    const framed = frameLayout(data);
    if (framed !== null) return decodeFramed(data, framed);
    try {
      v = unpackr.unpack(data);
    } catch (err) {
      throw new DecodingError(`invalid msgpack: ${(err as Error).message}`, { cause: err, object: data });
    }
  }
  if (isDict(v)) return [v];
  if (!Array.isArray(v)) throw new DecodingError("an envelope must hold an object or an array of objects", { object: data });
  for (const item of v) {
    if (!isDict(item)) throw new DecodingError("an envelope item is not an object", { object: data });
  }
  return v as Record<string, unknown>[];
}

/** A framed envelope decoded whole: its message with the raw back as base64 text. */
function decodeFramed(data: Uint8Array, layout: ReturnType<typeof frameLayout>): Record<string, unknown>[] {
  if (layout === null || layout === "short" || layout.rawOffset > data.length) throw new DecodingError("truncated framed envelope", { object: data });
  const dicts = decodeEnvelope(data.subarray(layout.headOffset, layout.rawOffset));
  if (dicts.length !== 1) throw new DecodingError("a framed envelope holds one message", { object: data });
  dicts[0]!.raw = Buffer.from(data.buffer, data.byteOffset + layout.rawOffset, data.length - layout.rawOffset).toString("base64");
  return dicts;
}
