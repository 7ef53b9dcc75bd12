// SPDX-License-Identifier: AGPL-3.0-only
// The bytes of a NATS message: a msgpack array of IntelMQ's flat dicts, or JSON from other tools.
import { Packr, Unpackr } from "msgpackr";
import { DecodingError } from "../errors/index.js";
import { Message } from "./message.js";

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

/** Encode messages (or flat dicts with __type) into one envelope: a msgpack array of flat dicts. */
export function encodeEnvelope(messages: readonly (Message | Record<string, unknown>)[]): Uint8Array {
  const items = new Array<Record<string, unknown>>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    items[i] = m instanceof Message ? m.serialize() : m;
  }
  return packr.pack(items);
}

/** Decode an envelope: msgpack array, or JSON (one object or an array) when contentType is application/json. DecodingError on bad bytes. */
export function decodeEnvelope(data: Uint8Array, contentType?: string): Record<string, unknown>[] {
  let v: unknown;
  if (contentType && /json/i.test(contentType)) {
    try {
      v = JSON.parse(utf8.decode(data));
    } catch (err) {
      throw new DecodingError(`invalid JSON: ${(err as Error).message}`, { cause: err, object: data });
    }
  } else {
    if (data.length === 0) throw new DecodingError("empty envelope", { object: data });
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
