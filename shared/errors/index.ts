// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Typed errors with stable codes, one class per IntelMQ exception.
 * Match on `code` (it survives NATS replies and dump entries); `name` is the class's own name;
 * `intelmqName` is the name IntelMQ gives the same failure, used in dumps and conformance results.
 * catalogue.ts lists every code; docs/errors.md is generated from it.
 */
import { ErrorCode, INTELMQ_EXCEPTIONS } from "./catalogue.js";

export { ErrorCode, ERROR_CATALOGUE, type ErrorEntry } from "./catalogue.js";

/** Base of every error of ours. */
export abstract class ImqError extends Error {
  readonly code: ErrorCode;
  /** IntelMQ's exception class name for the same failure. */
  readonly intelmqName: string;
  constructor(code: ErrorCode, intelmqName: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.intelmqName = intelmqName;
  }
}

/** A function got an argument it cannot use. */
export class InvalidArgument extends ImqError {
  constructor(readonly argument: string, readonly got?: unknown, readonly expected?: unknown, readonly docs?: string, options?: ErrorOptions) {
    let msg = `Argument ${JSON.stringify(argument)} is invalid`;
    if (expected !== undefined) msg += `, expected ${fmt(expected)}`;
    if (got !== undefined) msg += `, got ${fmt(got)}`;
    if (docs) msg += ` (see ${docs})`;
    super(ErrorCode.InvalidArgument, "InvalidArgument", msg + ".", options);
  }
}

/** A value fails the harmonization of its key. `object` is the message dict it came from. */
export class InvalidValue extends ImqError {
  object: unknown;
  constructor(readonly key: string, readonly value: unknown, readonly reason?: string, options?: ErrorOptions & { object?: unknown }) {
    super(ErrorCode.InvalidValue, "InvalidValue",
      `invalid value ${fmt(value)} (<class '${typeName(value)}'>) for key ${pyStr(key)}${reason ? ` ${reason}` : ""}`, options);
    this.object = options?.object;
  }
}

/** A key that the harmonization does not define. */
export class InvalidKey extends ImqError {
  constructor(readonly key: string, options?: ErrorOptions) {
    super(ErrorCode.InvalidKey, "InvalidKey", `invalid key ${pyStr(key)}`, options);
  }
}

/** add() without overwrite on a key that is present. */
export class KeyExists extends ImqError {
  constructor(readonly key: string, options?: ErrorOptions) {
    super(ErrorCode.KeyExists, "KeyExists", `key ${pyStr(key)} already exists`, options);
  }
}

/** change() on a key that is absent. */
export class KeyNotExists extends ImqError {
  constructor(readonly key: string, options?: ErrorOptions) {
    super(ErrorCode.KeyNotExists, "KeyNotExists", `key ${pyStr(key)} not exists`, options);
  }
}

/** Configuration that cannot work: names where (`config`) and what is wrong (`argument`). */
export class ConfigurationError extends ImqError {
  constructor(readonly config: string, readonly argument: string, options?: ErrorOptions) {
    super(ErrorCode.ConfigurationError, "ConfigurationError", `${config} configuration failed - ${argument}`, options);
  }
}

/** The pipeline (broker, queues, paths) failed. */
export class PipelineError extends ImqError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.PipelineError, "PipelineError", `pipeline failed - ${pyStr(message)}`, options);
  }
}

/** A library or program the bot needs is not there. */
export class MissingDependencyError extends ImqError {
  constructor(readonly dependency: string, readonly version?: string, readonly installed?: string, readonly additionalText?: string, options?: ErrorOptions) {
    let msg = `Could not load dependency ${JSON.stringify(dependency)}`;
    if (version) msg += `, version ${version} is required`;
    if (installed) msg += ` (installed: ${installed})`;
    if (additionalText) msg += ` ${additionalText}`;
    super(ErrorCode.MissingDependencyError, "MissingDependencyError", msg + ".", options);
  }
}

/** Bytes that could not be decoded (encoding, JSON, msgpack). `object` is what was being decoded. */
export class DecodingError extends ImqError {
  object: unknown;
  constructor(message: string, options?: ErrorOptions & { object?: unknown }) {
    super(ErrorCode.DecodingError, "DecodingError", `Could not decode message${message ? `: ${message}` : "."}`, options);
    this.object = options?.object;
  }
}

/**
 * Where IntelMQ fails with one of Python's built-in exceptions (`ValueError`, `TypeError`,
 * `KeyError`, ...): `intelmqName` is that exception's name.
 */
export class PythonError extends ImqError {
  constructor(pythonName: string, message: string, options?: ErrorOptions) {
    super(ErrorCode.PythonError, pythonName, message, options);
  }
}

/**
 * A line a parser cannot make an event of (IntelMQ: a ValueError of parse_line). The parser
 * driver puts the parser's name before the problem, so the dump says "ValueError: vxvault: ...".
 */
export class LineError extends ImqError {
  constructor(readonly problem: string, options?: ErrorOptions) {
    super(ErrorCode.LineError, "ValueError", problem, options);
  }
}

/** The broker is unreachable: reconnect and retry, never a failure of the message. */
export class BrokerUnavailableError extends ImqError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.BrokerUnavailable, "PipelineError", message, options);
  }
}

/** A server an output writes to is unreachable: the input waits for it, never a failure of the message. */
export class PeerUnavailableError extends ImqError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.PeerUnavailable, "OperationalError", message, options);
  }
}

/** A configured feature that the connected server cannot provide. */
export class UnsupportedFeatureError extends ImqError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.UnsupportedFeature, "ConfigurationError", message, options);
  }
}

/**
 * The exception as IntelMQ's tracebacks name it: `intelmq.lib.exceptions.InvalidValue` for
 * IntelMQ's own exceptions, Python's bare name (`ValueError`) for the others.
 */
export function qualifiedIntelmqName(err: ImqError): string {
  return INTELMQ_EXCEPTIONS.has(err.intelmqName) ? `intelmq.lib.exceptions.${err.intelmqName}` : err.intelmqName;
}

/**
 * The text of an error for a log line or a reply: its message (its name when it has none), or
 * the thrown value as text. Also IntelMQ's error_message_from_exc, when error_log_exception is off.
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** True if `err` is one of ours with the given code. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

function typeName(v: unknown): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  switch (typeof v) {
    case "string": return "str";
    case "number": return Number.isInteger(v) ? "int" : "float";
    case "boolean": return "bool";
    case "object": return "dict";
    default: return typeof v;
  }
}

/** Python's repr() of a string, as IntelMQ's messages show keys and values. */
function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
  return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
}

function fmt(v: unknown): string {
  if (typeof v === "string") return pyStr(v);
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}
