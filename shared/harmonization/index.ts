// SPDX-License-Identifier: AGPL-3.0-only
// CONTRACT STUB: public API of the harmonization module. Bodies to be implemented.
/** One field of harmonization.conf. */
export interface FieldSpec {
  readonly type: string;
  readonly description?: string;
  readonly length?: number;
  readonly regex?: string;
  readonly iregex?: string;
}

/** An IntelMQ harmonization type: IntelMQ's static is_valid/sanitize semantics. */
export interface HarmonizationType {
  readonly name: string;
  /** IntelMQ's is_valid(value, sanitize): with sanitize, the value is sanitized first. */
  isValid(value: unknown, sanitize?: boolean): boolean;
  /** IntelMQ's sanitize(value): the sanitized value, or null when it cannot be sanitized. */
  sanitize(value: unknown): unknown;
}

/** All types by IntelMQ class name (String, Integer, ..., ClassificationType). */
export declare const types: Readonly<Record<string, HarmonizationType>>;

/**
 * Call a type's static method by IntelMQ's name (is_valid, sanitize, from_timestamp, convert, to_ip...)
 * with IntelMQ's keyword args; used by the conformance executor. Throws our typed errors where IntelMQ raises.
 */
export declare function callTypeMethod(type: string, method: string, args: Record<string, unknown>): unknown;

/** The field table of etc/harmonization.conf, compiled for fast validation. */
export interface Harmonization {
  /** The field table of `event` or `report`. */
  fields(kind: "Event" | "Report"): ReadonlyMap<string, FieldSpec>;
  /**
   * Validate (and with sanitize=true, sanitize first) one value for a key of a message kind.
   * Returns the (sanitized) value, or throws InvalidKey / InvalidValue.
   */
  check(kind: "Event" | "Report", key: string, value: unknown, sanitize: boolean): unknown;
}

/** Load a harmonization.conf (default: $INTELMQ_ROOT_DIR/etc/harmonization.conf, else the project's etc/). Cached per path. */
export declare function loadHarmonization(file?: string): Harmonization;
