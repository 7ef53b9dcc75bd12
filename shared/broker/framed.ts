// SPDX-License-Identifier: AGPL-3.0-only
/** A framed envelope held in memory, handed out as a delivery is from the object store: head and raw apart. */
import { frameLayout } from "../message/index.js";
import type { RawStream } from "./types.js";

/** Pieces a memory raw is read in, as the object store's chunks. */
const PIECE = 128 * 1024;

/** The head and the streamed raw of a framed envelope; the data as it is otherwise. */
export function splitFramed(data: Uint8Array): { data: Uint8Array; raw?: RawStream } {
  const layout = frameLayout(data);
  if (layout === null || layout === "short" || layout.rawOffset > data.length) return { data };
  const raw = data.subarray(layout.rawOffset);
  return {
    data: data.subarray(layout.headOffset, layout.rawOffset),
    raw: {
      size: raw.length,
      async *chunks() {
        for (let off = 0; off < raw.length; off += PIECE) yield raw.subarray(off, off + PIECE);
      },
    },
  };
}
