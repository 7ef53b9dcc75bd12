// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A report whose raw is read a piece at a time from where it is stored (a framed envelope's raw in
 * the object store), instead of being held whole. Only parsers that read the raw through the
 * runtime's windows take it so; for anything else the raw is loaded first (hydrateRaw).
 */
import type { Message } from "./message.js";

/** The bytes of a raw, readable from the beginning as often as needed. */
export interface RawSource {
  /** Bytes in all. */
  readonly size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

const sources = new WeakMap<Message, RawSource>();

/** Give a message (without a raw field) the raw that `src` reads. */
export function attachRaw(msg: Message, src: RawSource): void {
  sources.set(msg, src);
}

/** The raw a message reads from its store, if it has one and it was not loaded. */
export function rawSource(msg: Message): RawSource | undefined {
  return sources.get(msg);
}

/** Load a streamed raw into the message's raw field, as a raw that came inline (no-op otherwise). */
export async function hydrateRaw(msg: Message): Promise<void> {
  const src = sources.get(msg);
  if (!src) return;
  const parts: Uint8Array[] = [];
  for await (const c of src.chunks()) parts.push(c);
  sources.delete(msg);
  msg.add("raw", Buffer.concat(parts).toString("base64"), { overwrite: true, sanitize: false });
}
