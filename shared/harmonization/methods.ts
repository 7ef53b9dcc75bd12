// SPDX-License-Identifier: AGPL-3.0-only
// Dispatch of IntelMQ's static harmonization methods by name with IntelMQ's keyword arguments.
import { InvalidArgument, PythonError, UnsupportedFeatureError } from "../errors/index.js";
import { PyFloat } from "./py.js";
import { types } from "./types.js";
import { checkAsn } from "./types.js";
import { ipValid } from "./network.js";
import * as dt from "./datetime.js";
import { parseIPv4, parseIp, parseIPv6, parseNetwork, reverseName } from "./ip.js";
import { urlsplit } from "./urlsplit.js";

/** Decode the conformance data's Python values ({"__pytype__": "bytes", ...}) into ours. */
export function fromPyData(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromPyData);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    if (typeof o["__pytype__"] === "string") {
      switch (o["__pytype__"]) {
        case "bytes": return new Uint8Array(Buffer.from(String(o["base64"]), "base64"));
        case "float": return new PyFloat(Number(o["repr"]));
        case "tuple": case "list": case "set": case "frozenset": case "generator":
          return ((o["items"] as unknown[]) ?? []).map(fromPyData);
        default:
          if ("str" in o) return String(o["str"]);
          if ("repr" in o) return String(o["repr"]);
          return o;
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = fromPyData(x);
    return out;
  }
  return v;
}

const TIME_CONVERSIONS: Record<string, (v: unknown) => unknown> = {
  timestamp: dt.fromTimestamp,
  windows_nt: dt.fromWindowsNt,
  epoch_millis: dt.fromEpochMillis,
  utc_isoformat: dt.fromIsoformat,
  fuzzy: dt.fromFuzzy,
};

/** DateTime.convert(value, format) */
export function convertDateTime(value: unknown, format: string | null | undefined): unknown {
  const f = format ?? "fuzzy";
  if (f.startsWith("from_format|")) return dt.fromFormat(value, f.slice(12));
  if (f.startsWith("from_format_midnight|")) return dt.fromFormatMidnight(value, f.slice(21));
  if (f === "from_format" || f === "from_format_midnight") {
    throw new PythonError("TypeError", `${f}() missing 1 required positional argument: 'format'`);
  }
  const fn = TIME_CONVERSIONS[f];
  if (!fn) throw new PythonError("KeyError", `'${f}'`);
  return fn(value);
}

/** IPAddress.to_int: inet_pton of IPv4 or IPv6; null if neither. bigint above 2^53. */
export function ipToInt(value: unknown): number | bigint | null {
  if (typeof value !== "string") return null;
  const v4 = parseIPv4(value);
  if (v4 !== null) return v4;
  const v6 = parseIPv6(value);
  if (!v6 || v6.scope !== undefined) return null;
  return v6.v6 <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v6.v6) : v6.v6;
}

function arg(args: Record<string, unknown>, name: string, pos = 0): unknown {
  if (name in args) return args[name];
  const list = args["args"];
  if (Array.isArray(list)) return list[pos];
  return undefined;
}

/**
 * Call a type's static method by IntelMQ's name (is_valid, sanitize, from_timestamp, convert, to_ip...)
 * with IntelMQ's keyword args; used by the conformance executor. Throws our typed errors where IntelMQ raises.
 */
export function callTypeMethod(type: string, method: string, rawArgs: Record<string, unknown>): unknown {
  const t = types[type];
  if (!t) throw new InvalidArgument("type", type, Object.keys(types));
  const args = fromPyData(rawArgs ?? {}) as Record<string, unknown>;
  const value = arg(args, "value");
  switch (method) {
    case "is_valid": return t.isValid(value, Boolean(arg(args, "sanitize", 1) ?? false));
    case "sanitize": {
      const r = t.sanitize(value);
      return r === undefined ? null : r;
    }
    case "is_valid_subitem": if (type === "JSONDict") return true; break;
    case "sanitize_subitem": if (type === "JSONDict") return value; break;
  }
  if (type === "DateTime") {
    switch (method) {
      case "from_timestamp": return dt.fromTimestamp(value);
      case "from_epoch_millis": return dt.fromEpochMillis(value);
      case "from_windows_nt": return dt.fromWindowsNt(value);
      case "from_isoformat": case "parse_utc_isoformat": return dt.fromIsoformat(value);
      case "from_format": case "convert_from_format": return dt.fromFormat(value, String(arg(args, "format", 1)));
      case "from_format_midnight": case "convert_from_format_midnight":
        return dt.fromFormatMidnight(value, String(arg(args, "format", 1)));
      case "from_fuzzy": case "convert_fuzzy": return dt.fromFuzzy(value);
      case "convert": return convertDateTime(value, arg(args, "format", 1) as string | null | undefined);
      case "generate_datetime_now": return dt.generateDatetimeNow();
    }
  }
  if (type === "IPAddress") {
    switch (method) {
      case "to_int": return ipToInt(value);
      case "version": {
        const a = typeof value === "string" ? parseIp(value) : null;
        if (!a) throw dt.valueError(`'${String(value)}' does not appear to be an IPv4 or IPv6 address`);
        return a.version;
      }
      case "to_reverse": {
        const a = typeof value === "string" ? parseIp(arg(args, "ip_addr") as string ?? value) : null;
        const b = a ?? (typeof arg(args, "ip_addr") === "string" ? parseIp(arg(args, "ip_addr") as string) : null);
        if (!b) throw new PythonError("SyntaxError", "invalid IP address");
        return reverseName(b);
      }
    }
  }
  if (type === "IPNetwork" && method === "version") {
    const n = parseNetwork(String(value), true);
    if (!n) throw dt.valueError(`'${String(value)}' does not appear to be an IPv4 or IPv6 network`);
    return n.version;
  }
  if (type === "ASN" && method === "check_asn") return checkAsn(value as number);
  if (type === "URL" && method === "to_domain_name") {
    const u = urlsplit(String(arg(args, "url") ?? value));
    if (!u) throw dt.valueError("Invalid IPv6 URL");
    return u.netloc !== "" && !ipValid(u.netloc) ? u.netloc : null;
  }
  if (method === "to_ip" && (type === "FQDN" || type === "URL")) {
    throw new UnsupportedFeatureError(`${type}.to_ip needs DNS resolution, which the harmonization module does not do`);
  }
  throw new PythonError("AttributeError", `type object '${type}' has no attribute '${method}'`);
}
