// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The catalogue of error codes: every code, the class that carries it, IntelMQ's name for the
 * same failure and what it means. docs/errors.md is generated from it (scripts/gen-errors-doc.mjs)
 * and a test fails when the two disagree.
 */

export const ErrorCode = {
  InvalidArgument: "IMQ_ERR_INVALID_ARGUMENT",
  InvalidValue: "IMQ_ERR_INVALID_VALUE",
  InvalidKey: "IMQ_ERR_INVALID_KEY",
  KeyExists: "IMQ_ERR_KEY_EXISTS",
  KeyNotExists: "IMQ_ERR_KEY_NOT_EXISTS",
  ConfigurationError: "IMQ_ERR_CONFIG",
  PipelineError: "IMQ_ERR_PIPELINE",
  MissingDependencyError: "IMQ_ERR_MISSING_DEPENDENCY",
  DecodingError: "IMQ_ERR_DECODING",
  PythonError: "IMQ_ERR_PYTHON",
  LineError: "IMQ_ERR_LINE",
  BrokerUnavailable: "IMQ_ERR_BROKER_UNAVAILABLE",
  UnsupportedFeature: "IMQ_ERR_UNSUPPORTED_FEATURE",
  SizeLimit: "IMQ_ERR_SIZE_LIMIT",
  TlsVerification: "IMQ_ERR_TLS_VERIFICATION",
  PeerUnavailable: "IMQ_ERR_PEER_UNAVAILABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One entry of the catalogue. */
export interface ErrorEntry {
  code: ErrorCode;
  /** The class that carries the code (its `name`). */
  className: string;
  /** Where the class is defined, when not in shared/errors. */
  module?: string;
  /** IntelMQ's exception for the same failure (several: the one Python raises there); null: IntelMQ has none. */
  intelmqName: string | readonly string[] | null;
  /** What it means and what the runtime or the caller does about it. */
  meaning: string;
}

export const ERROR_CATALOGUE: readonly ErrorEntry[] = [
  {
    code: ErrorCode.InvalidArgument, className: "InvalidArgument", intelmqName: "InvalidArgument",
    meaning: "A function or a parameter got an argument it cannot use; the message names the argument, what was expected and what came.",
  },
  {
    code: ErrorCode.InvalidValue, className: "InvalidValue", intelmqName: "InvalidValue",
    meaning: "A value fails the harmonization of its field. A message failing so is dumped at once, without retries.",
  },
  {
    code: ErrorCode.InvalidKey, className: "InvalidKey", intelmqName: "InvalidKey",
    meaning: "A field that the harmonization does not define.",
  },
  {
    code: ErrorCode.KeyExists, className: "KeyExists", intelmqName: "KeyExists",
    meaning: "add() without overwrite on a field the message already has.",
  },
  {
    code: ErrorCode.KeyNotExists, className: "KeyNotExists", intelmqName: "KeyNotExists",
    meaning: "change() of a field the message does not have.",
  },
  {
    code: ErrorCode.ConfigurationError, className: "ConfigurationError", intelmqName: "ConfigurationError",
    meaning: "Configuration that cannot work (runtime.yaml, a parameter, a file it names). A bot stops on it instead of retrying.",
  },
  {
    code: ErrorCode.PipelineError, className: "PipelineError", intelmqName: "PipelineError",
    meaning: "The pipeline refused something: a destination path that is not configured, a request the broker rejected.",
  },
  {
    code: ErrorCode.MissingDependencyError, className: "MissingDependencyError", intelmqName: "MissingDependencyError",
    meaning: "A library or program the bot needs is not installed.",
  },
  {
    code: ErrorCode.DecodingError, className: "DecodingError", intelmqName: "DecodingError",
    meaning: "Bytes that could not be decoded (an envelope, JSON, msgpack, a feed's record). The message is dumped at once.",
  },
  {
    code: ErrorCode.PythonError, className: "PythonError", intelmqName: ["ValueError", "TypeError", "KeyError", "AttributeError", "SyntaxError"],
    meaning: "Where IntelMQ fails with one of Python's built-in exceptions (a date it cannot read, a missing field, an unknown type method); dumps and conformance results name Python's exception.",
  },
  {
    code: ErrorCode.LineError, className: "LineError", intelmqName: "ValueError",
    meaning: "A parser cannot make an event of a line. The line is dumped as a copy of its report, the problem after the parser's name; the rest of the report goes on.",
  },
  {
    code: ErrorCode.BrokerUnavailable, className: "BrokerUnavailableError", intelmqName: "PipelineError",
    meaning: "The broker cannot be reached or did not confirm in time (disconnected, no PubAck, a full queue). Reconnect and retry: never a failure of the message, never counted as a retry.",
  },
  {
    code: ErrorCode.UnsupportedFeature, className: "UnsupportedFeatureError", intelmqName: "ConfigurationError",
    meaning: "A configured feature that the connected NATS server (or this implementation) cannot provide.",
  },
  {
    code: ErrorCode.SizeLimit, className: "SizeLimitError", module: "services/collectors/http", intelmqName: null,
    meaning: "A download or an archive in it is larger than http_max_size once decompressed; the collection round fails.",
  },
  {
    code: ErrorCode.TlsVerification, className: "TlsVerificationError", module: "services/collectors/http", intelmqName: "SSLError",
    meaning: "The server's TLS certificate was not accepted; the message says how to trust its CA or turn verification off. The collection round fails.",
  },
  {
    code: ErrorCode.PeerUnavailable, className: "PeerUnavailableError", intelmqName: "OperationalError",
    meaning: "A server an output writes to (a database, a mail server) cannot be reached or dropped the connection. The input waits for it, as for the broker (IntelMQ's SQL output reconnects and keeps the message): never a failure of the message, never counted as a retry.",
  },
];

/** IntelMQ's own exceptions (intelmq.lib.exceptions); the other names are Python's. */
export const INTELMQ_EXCEPTIONS: ReadonlySet<string> = new Set([
  "InvalidArgument", "InvalidValue", "InvalidKey", "KeyExists", "KeyNotExists",
  "ConfigurationError", "PipelineError", "MissingDependencyError", "DecodingError",
]);
