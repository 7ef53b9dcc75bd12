// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The conversion functions a Shadowserver schema names for a column (IntelMQ's
 * intelmq.bots.parsers.shadowserver._config functions), with IntelMQ's semantics: a function
 * returns the value to add, or null for "no value"; a throw fails the line (IntelMQ re-raises).
 */
import { PythonError, pyParseFloat, pyParseInt, pyRepr, types } from "../../../shared/sdk/index.js";

/** A column of the row by name: undefined when the header has no such column, null when the row is short. */
export type RowLookup = (column: string) => string | null | undefined;

export type Converter = (value: string, row: RowLookup) => unknown;

const TRUE_WORDS = new Set(["y", "yes", "true", "enabled", "1"]);
const FALSE_WORDS = new Set(["n", "no", "false", "disabled", "0"]);

/** Python's int(value), raising ValueError as Python does. */
function toInt(value: string): number {
  const n = pyParseInt(value);
  if (n === null) throw new PythonError("ValueError", `invalid literal for int() with base 10: ${pyRepr(value)}`);
  return n;
}

function toFloat(value: string): number {
  const n = pyParseFloat(value);
  if (n === null) throw new PythonError("ValueError", `could not convert string to float: ${pyRepr(value)}`);
  return n;
}

/** A column's value as Python's `row.get(name, default)`. */
function rowGet(row: RowLookup, name: string, fallback: string): string | null {
  const v = row(name);
  return v === undefined ? fallback : v;
}

/**
 * Hostname and path put together as a URL. The columns differ between reports (cc_dns,
 * http_host, hostname or ip for the host; url or http_url for the path, sometimes the whole
 * request line); without both the value is kept as it is.
 */
function httpHostAndUrl(value: string, row: RowLookup): unknown {
  let host: string | null = "";
  if (row("cc_dns") !== undefined) host = rowGet(row, "cc_dns", "");
  if (!host && row("http_host") !== undefined) host = row("http_host")!;
  if (!host && row("hostname") !== undefined) host = row("hostname")!;
  if (!host && row("ip") !== undefined) host = row("ip")!;
  let path: string | null = "";
  if (row("url") !== undefined) path = rowGet(row, "url", "");
  else if (row("http_url") !== undefined) path = rowGet(row, "http_url", "");
  if (host && path) {
    // the request line's method before the path and the protocol after it go
    // (Python's `\s.*$` without DOTALL: to the end, or to a last "\n", which goes as a match of its own)
    path = path.replace(/^[^/]*/, "").replace(/\s[^\n]*(?=\n?$)/g, "");
    const app = row("application");
    const scheme = app === "http" || app === "https" ? app : "http";
    return scheme + "://" + host + path;
  }
  return value;
}

function b64Valid(value: string): boolean {
  // base64.b64decode(validate=True): alphabet only, padding only at the end, whole quanta
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value);
}

const CVE = /^cve-[0-9]+-[0-9]+\n?$/;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

/**
 * An HTTP date ("Mon, 15 Jan 2024 18:24:38 GMT", most date columns of the scan reports) in ISO
 * form, as dateutil reads it (the weekday is not checked); null for anything else.
 */
function httpDate(v: string): string | null {
  const m = HTTP_DATE.exec(v);
  if (!m) return null;
  const [d, mo, y, hh, mi, ss] = [+m[1]!, MONTHS.indexOf(m[2]!), +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  const t = new Date(Date.UTC(y, mo, d, hh, mi, ss));
  if (y < 1 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo || t.getUTCDate() !== d || hh > 23 || mi > 59 || ss > 59) return null;
  return `${m[3]}-${String(mo + 1).padStart(2, "0")}-${m[1]}T${m[4]}:${m[5]}:${m[6]}+00:00`;
}

export const CONVERTERS: Readonly<Record<string, Converter>> = {
  add_UTC_to_timestamp: (v) => v + " UTC",
  convert_bool: (v) => {
    const l = v.toLowerCase();
    return TRUE_WORDS.has(l) ? true : FALSE_WORDS.has(l) ? false : null;
  },
  validate_to_none: (v) => (!v || v === "0" || v === "unknown" ? null : v),
  convert_int: (v) => (v ? toInt(v) : null),
  // nan and inf stay text: JSON (and so extra) has no such numbers; IntelMQ writes Python's NaN
  convert_float: (v) => {
    if (!v) return null;
    const n = toFloat(v);
    return Number.isFinite(n) ? n : v;
  },
  convert_http_host_and_url: httpHostAndUrl,
  invalidate_zero: (v) => {
    if (!v) return null;
    const n = toInt(v);
    return n !== 0 ? n : null;
  },
  // addresses with a prefix and 0.0.0.0 are no host (IntelMQ #1720)
  validate_ip: (v) => (v !== "0.0.0.0" && !v.includes("/") && types.IPAddress!.isValid(v, true) ? v : null),
  validate_network: (v) => (v.includes("/") && types.IPNetwork!.isValid(v, true) ? v : null),
  validate_fqdn: (v) => (v && types.FQDN!.isValid(v, true) ? v : null),
  convert_date: (v) => httpDate(v) ?? types.DateTime!.sanitize(v) ?? null,
  convert_date_utc: (v) => types.DateTime!.sanitize(v + "+00:00") ?? null,
  force_base64: (v) => {
    if (!v) return null;
    // Python's b64decode of a str with non-ASCII characters is a ValueError, not a decoding error
    if (/[^\x00-\x7f]/.test(v)) throw new PythonError("ValueError", "string argument should contain only ASCII characters");
    return b64Valid(v) ? v : Buffer.from(v, "utf8").toString("base64");
  },
  scan_exchange_taxonomy: (v) => (v.includes("webshell") ? "intrusions" : "vulnerable"),
  scan_exchange_type: (v) => (v.includes("webshell") ? "system-compromise" : "vulnerable-system"),
  scan_exchange_identifier: (v) => (v.includes("webshell") ? "exchange-server-webshell" : "vulnerable-exchange-server"),
  category_or_detail: (_v, row) => {
    const category = rowGet(row, "category", "");
    return category !== "" ? category : rowGet(row, "detail", "");
  },
  extract_cve_from_tag: (v) => {
    const cves = new Set<string>();
    for (const t of v.split(";")) if (CVE.test(t)) cves.add(t);
    if (cves.size === 0) return null;
    // Python's sorted() of str: by code point, which the default sort of these ASCII strings is
    return [...cves].sort().join(";");
  },
  // from IntelMQ 2's configuration (drone reports): any value marks a Tor node
  set_tor_node: (v) => (v ? true : null),
};
