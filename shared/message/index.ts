// SPDX-License-Identifier: AGPL-3.0-only
// CONTRACT STUB: public API of the message module. Bodies to be implemented.
import type { Harmonization } from "../harmonization/index.js";

export type MessageKind = "Event" | "Report";

/** IntelMQ's add() keyword arguments. */
export interface AddOptions {
  /** Sanitize before validating (default true). */
  sanitize?: boolean;
  /** undefined/null: KeyExists on a present key; false: keep and return false; true: replace. */
  overwrite?: boolean | null;
  /** Extra values treated like None ("", "-", "N/A" always are). */
  ignore?: readonly unknown[];
  /** false: return false instead of throwing InvalidValue. */
  raiseFailure?: boolean;
}

export interface ToDictOptions {
  hierarchical?: boolean;
  withType?: boolean;
  jsondictAsString?: boolean;
}

export interface HashOptions {
  /** Keys to leave out (blacklist) or to use only (whitelist). time.observation is always left out. */
  filterKeys?: Iterable<string>;
  filterType?: "blacklist" | "whitelist";
}

/** A flat IntelMQ message: dotted keys, `extra.*` sub-keys holding any JSON value. */
export declare class Message {
  readonly kind: MessageKind;
  readonly harmonization: Harmonization;
  /** Build from a flat dict without validation of types beyond IntelMQ's constructor rules. */
  constructor(init?: Record<string, unknown> | null, opts?: { harmonization?: Harmonization; autoObservation?: boolean });
  add(key: string, value: unknown, opts?: AddOptions): boolean | null;
  /** add() with overwrite=true for each item. */
  update(values: Record<string, unknown>): void;
  /** Overwrite an existing key; KeyNotExists if absent. */
  change(key: string, value: unknown, opts?: { sanitize?: boolean }): boolean | null;
  /** The value; `extra` returns nested JSON text of all extra.* keys; `fallback` when absent. */
  get(key: string, fallback?: unknown): unknown;
  has(key: string): boolean;
  delete(key: string): boolean;
  keys(): string[];
  entries(): [string, unknown][];
  readonly size: number;
  isValid(key: string, value: unknown, sanitize?: boolean): boolean;
  finditems(prefix: string): [string, unknown][];
  copy(): this;
  /** IntelMQ's hash(): SHA-256 hex over sorted items with Python repr of values. */
  hash(opts?: HashOptions): string;
  toDict(opts?: ToDictOptions): Record<string, unknown>;
  /** IntelMQ's to_json(): sorted keys, no ASCII escaping, without __type unless withType. */
  toJson(opts?: ToDictOptions): string;
  /** Flat dict with `__type`: what travels between bots. */
  serialize(): Record<string, unknown>;
}
export declare class Event extends Message { readonly kind: "Event"; }
export declare class Report extends Message { readonly kind: "Report"; }

/**
 * Deserialise a flat dict (as on the wire) into an Event or Report: each key added unsanitized,
 * retried sanitized, as IntelMQ does; throws InvalidValue (with .object = the dict) or InvalidKey.
 * `__type` selects the class; without it `defaultType` is used, else DecodingError.
 */
export declare function messageFromDict(dict: Record<string, unknown>, opts?: { harmonization?: Harmonization; defaultType?: MessageKind }): Event | Report;

/** A new Event, copying feed.*, rtir_id, time.observation and `copyFields` from the report as IntelMQ's new_event(). */
export declare function newEvent(report?: Report | null, opts?: { harmonization?: Harmonization; copyFields?: readonly string[] }): Event;

/** Encode messages (or flat dicts with __type) into one envelope: a msgpack array of flat dicts. */
export declare function encodeEnvelope(messages: readonly (Message | Record<string, unknown>)[]): Uint8Array;

/** Decode an envelope: msgpack array, or JSON (one object or an array) when contentType is application/json. DecodingError on bad bytes. */
export declare function decodeEnvelope(data: Uint8Array, contentType?: string): Record<string, unknown>[];
