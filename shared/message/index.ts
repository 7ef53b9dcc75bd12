// SPDX-License-Identifier: AGPL-3.0-only
/** Messages: IntelMQ's Event and Report, their deserialisation and the envelopes that carry them. */
export { Message, Event, Report, messageFromDict, newEvent, getDefaultHarmonization } from "./message.js";
export type { MessageKind, AddOptions, ToDictOptions, HashOptions, MessageOptions } from "./message.js";
// Python's == lives with the other Python value semantics; kept here for the messages' users.
export { pyEquals } from "../harmonization/index.js";
export { encodeEnvelope, decodeEnvelope } from "./envelope.js";
