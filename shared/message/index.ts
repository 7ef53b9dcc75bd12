// SPDX-License-Identifier: AGPL-3.0-only
/** Messages: IntelMQ's Event and Report, their deserialisation and the envelopes that carry them. */
export { Message, getDefaultHarmonization } from "./message.js";
export { ByteSink } from "./views.js";
export { Event, Report, messageFromDict, newEvent } from "./kinds.js";
export type { MessageKind, AddOptions, ToDictOptions, HashOptions, MessageOptions } from "./types.js";
// Python's == lives with the other Python value semantics; kept here for the messages' users.
export { pyEquals } from "../harmonization/index.js";
export { encodeEnvelope, decodeEnvelope, encodeChunk, joinChunks, envelopeChunks, CHUNK_OVERHEAD, frameLayout, FRAME_RAW_MIN, HARMONIZED_HEADER } from "./envelope.js";
export { attachRaw, hydrateRaw, rawSource, type RawSource } from "./streamed.js";
