// SPDX-License-Identifier: AGPL-3.0-only
/** Messages: IntelMQ's Event and Report, their deserialisation and the envelopes that carry them. */
export { Message, Event, Report, messageFromDict, newEvent, pyEquals, getDefaultHarmonization } from "./message.js";
export type { MessageKind, AddOptions, ToDictOptions, HashOptions, MessageOptions } from "./message.js";
export { encodeEnvelope, decodeEnvelope } from "./envelope.js";
