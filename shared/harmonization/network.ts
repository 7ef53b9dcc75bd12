// SPDX-License-Identifier: AGPL-3.0-only
/** IPAddress, IPNetwork, FQDN and URL: harmonization.py's validation and sanitizing of network names. */
import { domainToASCII } from "node:url";
import { genericSanitize } from "./generic.js";
import { formatIp, formatNetwork, ipFromInt, isIPv4, parseIp, parseNetwork } from "./ip.js";
import { isPyAsciiWhitespace, pyStr, PyFloat } from "./py.js";
import { netlocOf, urlsplit, urlunsplit } from "./urlsplit.js";

/** IPAddress.is_valid without sanitize. */
export function ipValid(v: unknown): boolean {
  if (typeof v !== "string" || !v) return false;
  if (isIPv4(v)) return v !== "0.0.0.0";
  if (!v.includes(":") || v.includes("%")) return false;
  return parseIp(v) !== null;
}

/** IPAddress.sanitize: integers, floats and text (an interface suffix after % dropped) to an address, or null. */
export function ipSanitize(v: unknown): string | null {
  let value: unknown = v;
  if (typeof value === "boolean") value = value ? 1 : 0;
  if (typeof value !== "number" && typeof value !== "bigint") {
    if (value instanceof PyFloat) value = value.value;
    else value = genericSanitize(value);
  }
  // A canonical dotted quad is its own sanitized form (isIPv4 takes nothing else)
  if (typeof value === "string" && isIPv4(value)) return value;
  if (typeof value === "string" && /^-?[0-9]+$/.test(value) && !/^-?0[0-9]/.test(value) && value !== "-0") {
    value = BigInt(value);
  }
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isInteger(value)) {
      // a float: str(value) is not a valid address
      value = pyStr(value, true);
    } else {
      const a = ipFromInt(value);
      return a ? formatIp(a) : null;
    }
  }
  if (typeof value !== "string") return null;
  const pct = value.indexOf("%");
  if (pct >= 0) value = value.slice(0, pct);
  const net = parseNetwork(value as string, true);
  if (!net) return null;
  if (net.prefix !== (net.version === 4 ? 32 : 128)) return null;
  return genericSanitize(formatIp(net.addr));
}

/** IPNetwork.sanitize. */
export function netSanitize(v: unknown): string | null {
  const g = genericSanitize(v);
  const n = parseNetwork(g === null ? "None" : g, false);
  return n ? genericSanitize(formatNetwork(n)) : null;
}

/**
 * Whether `s` holds a C0 or C1 control character or DEL. A regular expression: its compiled scan
 * reads a value cut from a larger text (a CSV field) once, where a charCodeAt loop unwraps that
 * slice at every character (4 % of a CSV parser's instructions went there).
 * Our deliberate difference from IntelMQ: Python's idna codec and urlsplit let ASCII controls
 * through (only non-ASCII ones fail IDNA), so a feed's garbage could reach an FQDN or URL field;
 * here no FQDN or URL holds one.
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
function hasControl(s: string): boolean {
  return CONTROL.test(s);
}

/** The value's IDNA (2003) encoding as Python's 'idna' codec gives it, or null on UnicodeError. */
export function idnaEncode(s: string): string | null {
  // ASCII: labels of 1..63 characters (the last may be empty: a trailing dot), measured in place
  // in the same pass that looks for anything else (a regular expression first cost as much)
  let start = 0;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) { ascii = false; break; }
    if (c !== 46) continue;
    if (i === start || i - start > 63) return null;
    start = i + 1;
  }
  if (ascii) return s.length - start >= 64 ? null : s;
  const labels = s.split(/[.\u3002\uff0e\uff61]/);
  let trailing = "";
  if (labels.length && !labels[labels.length - 1]) { trailing = "."; labels.pop(); }
  const out: string[] = [];
  for (const label of labels) {
    let a: string;
    if (/^[\x00-\x7f]*$/.test(label)) a = label;
    else {
      a = domainToASCII(label);
      if (!a || a.includes(".")) return null;
    }
    if (a.length < 1 || a.length > 63) return null;
    out.push(a);
  }
  return out.join(".") + trailing;
}

/**
 * A name that is its own sanitized form and valid: labels of 1 to 63 lower-case ASCII letters,
 * digits, hyphens and underscores, not all of them digits (an IPv4 address is no FQDN). IDNA
 * leaves such labels as they are. Most names in feeds are so: one scan replaces sanitize()'s
 * control, IDNA and case passes and is_valid()'s own.
 */
const PLAIN_FQDN = /^(?=[0-9.]*[a-z_-])[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$/;
/** The last name fqdnSanitize() found plain: is_valid() of that same text, right after, is known. */
let plainFqdn = "";

/** FQDN.is_valid without sanitize. */
export function fqdnValid(v: unknown): boolean {
  if (typeof v !== "string" || !v) return false;
  return v === plainFqdn || fqdnValidScan(v);
}

/** @internal fqdnValid() without the last plain name (tests compare the two). */
export function fqdnValidScan(v: string): boolean {
  const n = v.length;
  if (v.charCodeAt(0) === 46 || v.charCodeAt(n - 1) === 46) return false;
  // one pass: ASCII only (else the IDNA form differs), no upper case, no ':', labels of 1..63
  let label = 0, special = false, onlyDigitsDots = true;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 46) {
      if (label === 0 || label > 63) return false;
      label = 0;
      continue;
    }
    if (c === 58 || (c >= 65 && c <= 90) || c > 126 || c < 32) return false;
    if (c === 47 || c === 63 || c === 35) special = true;
    if (c < 48 || c > 57) onlyDigitsDots = false;
    label++;
  }
  if (label >= 64) return false;
  if (onlyDigitsDots && isIPv4(v) && v !== "0.0.0.0") return false;
  if (special) {
    const u = urlsplit(v);
    if (!u || u.scheme || u.netloc || u.query || u.fragment || u.path.includes("/")) return false;
  }
  return true;
}

/** FQDN.sanitize: stripped of dots at either end, IDNA-encoded, lower case; null with a control character. */
export function fqdnSanitize(v: unknown): string | null {
  const g = genericSanitize(v);
  if (typeof g !== "string") return null;
  return PLAIN_FQDN.test(g) ? (plainFqdn = g) : fqdnSanitizeText(g);
}

/** @internal fqdnSanitize() of a text, without the plain-name scan (tests compare the two). */
export function fqdnSanitizeText(g: string): string | null {
  if (hasControl(g)) return null;
  const s = g.charCodeAt(0) === 46 || g.charCodeAt(g.length - 1) === 46 ? g.replace(/^\.+|\.+$/g, "") : g;
  if (!s) return null;
  const e = idnaEncode(s);
  return e === null ? null : e.toLowerCase();
}

/** URL.is_valid without sanitize. */
export function urlValid(v: unknown): boolean {
  if (typeof v !== "string" || !v || hasControl(v)) return false;
  if (isPyAsciiWhitespace(v.charCodeAt(0))) return false;
  const n = netlocOf(v);
  return n !== null && n !== "";
}

/** URL.sanitize: hxxp(s) defanged, file URLs given localhost; null without a netloc or with a control character. */
export function urlSanitize(v: unknown): string | null {
  let value = genericSanitize(v);
  if (!value || hasControl(value)) return null;
  // replaceAll() costs as much as the rest of this function even where there is nothing to replace
  if (value.includes("hxxp")) value = value.replaceAll("hxxp://", "http://").replaceAll("hxxps://", "https://");
  // the common case, a netloc, without the whole split
  const netloc = netlocOf(value);
  if (netloc === null) return null;
  if (netloc !== "") return value;
  let r = urlsplit(value);
  if (!r) return null;
  if (r.scheme === "file" && r.netloc === "") {
    value = urlunsplit({ ...r, netloc: "localhost" });
    r = urlsplit(value);
    if (!r) return null;
  }
  return r.netloc !== "" ? value : null;
}
