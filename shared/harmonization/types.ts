// SPDX-License-Identifier: AGPL-3.0-only
// IntelMQ's harmonization types with the exact is_valid/sanitize semantics of intelmq/lib/harmonization.py.
import { domainToASCII } from "node:url";
import { decodeBytes, pyFalsy, pyJsonDumps, pyParseFloat, pyParseInt, pyStr, pyStrip, PyFloat, isPyAsciiWhitespace } from "./py.js";
import { formatIp, formatNetwork, ipFromInt, isIPv4, parseIp, parseNetwork } from "./ip.js";
import { matchesIsoFormat, sanitizeDateTime } from "./datetime.js";
import { netlocOf, urlsplit, urlunsplit } from "./urlsplit.js";

/** An IntelMQ harmonization type: IntelMQ's static is_valid/sanitize semantics. */
export interface HarmonizationType {
  readonly name: string;
  /** IntelMQ's is_valid(value, sanitize): with sanitize, the value is sanitized first. */
  isValid(value: unknown, sanitize?: boolean): boolean;
  /** IntelMQ's sanitize(value): the sanitized value, or null when it cannot be sanitized. */
  sanitize(value: unknown): unknown;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function define(name: string, valid: (v: unknown) => boolean, sanitize: (v: unknown) => unknown,
  isValidSanitized?: (v: unknown) => boolean): HarmonizationType {
  return {
    name,
    isValid(value: unknown, san = false): boolean {
      if (!san) return valid(value);
      if (isValidSanitized) return isValidSanitized(value);
      return valid(sanitize(value));
    },
    sanitize,
  };
}

// ---- GenericType / String ----

/** GenericType.sanitize */
export function genericSanitize(v: unknown): string | null {
  if (pyFalsy(v)) return null;
  if (typeof v === "string") return pyStrip(v);
  if (isBytes(v)) return pyStrip(decodeBytes(v));
  return pyStr(v);
}

/** GenericType.is_valid / String.is_valid without sanitize: a non-empty str. */
export function stringValid(v: unknown): boolean {
  return typeof v === "string" && v.length > 0;
}

const GenericType = define("GenericType", stringValid, genericSanitize);
const StringT = define("String", stringValid, genericSanitize);

// ---- Base64 ----

const B64_TABLE = new Int8Array(128).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => { B64_TABLE[c.charCodeAt(0)] = i; });
const B64_STRICT = /^[A-Za-z0-9+/]*={0,2}$/;

/** Whether Python's base64.b64decode (non-strict) accepts the text. */
export function b64Decodable(s: string): boolean {
  if ((s.length & 3) === 0 && B64_STRICT.test(s)) {
    // canonical: '=' only at the end, at most two, length multiple of 4
    const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
    return pad === 0 || s.length >= 4;
  }
  return b64Walk(s, null) !== null;
}

/** binascii.a2b_base64 (non-strict): the bytes, or null where Python raises binascii.Error. */
function b64Walk(s: string, out: number[] | null): number[] | null | true {
  let quad = 0, pads = 0, left = 0;
  const bytes = Buffer.from(s, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 61) {
      if (quad >= 2 && quad + ++pads >= 4) return out ?? true;
      continue;
    }
    const v = c < 128 ? B64_TABLE[c]! : -1;
    if (v < 0) continue;
    pads = 0;
    switch (quad) {
      case 0: quad = 1; left = v; break;
      case 1: quad = 2; out?.push((left << 2) | (v >> 4)); left = v & 0x0f; break;
      case 2: quad = 3; out?.push((left << 4) | (v >> 2)); left = v & 0x03; break;
      case 3: quad = 0; out?.push((left << 6) | v); left = 0; break;
    }
  }
  return quad === 0 ? (out ?? true) : null;
}

/** utils.base64_decode: Python's lenient base64 decoding to text (invalid UTF-8 dropped). Throws on bad padding. */
export function base64Decode(value: string | Uint8Array): string {
  const s = typeof value === "string" ? value : Buffer.from(value).toString("latin1");
  const out = b64Walk(s, []);
  if (out === null) throw new Error("Incorrect padding");
  return decodeBytes(Uint8Array.from(out as number[]));
}

/** utils.base64_encode of a str (UTF-8) or bytes. */
export function base64Encode(value: string | Uint8Array): string {
  return (typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value)).toString("base64");
}

const Base64 = define("Base64",
  (v) => typeof v === "string" && v.length > 0 && b64Decodable(v),
  (v) => (typeof v === "string" || isBytes(v) ? base64Encode(v) : null));

// ---- Boolean ----

function booleanSanitize(v: unknown): boolean | null {
  if (typeof v === "string" || isBytes(v)) {
    const s = pyStrip(typeof v === "string" ? v : decodeBytes(v)).toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    return null;
  }
  if (typeof v === "boolean") return v;
  if (typeof v === "number" && Number.isInteger(v)) return v === 0 ? false : v === 1 ? true : null;
  return null;
}
const BooleanT = define("Boolean", (v) => typeof v === "boolean", booleanSanitize,
  (v) => typeof v === "boolean" || booleanSanitize(v) !== null);

// ---- case types ----

function lowerSanitize(v: unknown): string | null {
  if (typeof v === "string") return genericSanitize(v.toLowerCase());
  if (isBytes(v)) return genericSanitize(asciiCase(decodeBytes(v), false));
  return null;
}
function upperSanitize(v: unknown): string | null {
  if (typeof v === "string") return genericSanitize(v.toUpperCase());
  if (isBytes(v)) return genericSanitize(asciiCase(decodeBytes(v), true));
  return null;
}
function asciiCase(s: string, upper: boolean): string {
  return s.replace(upper ? /[a-z]+/g : /[A-Z]+/g, (m) => (upper ? m.toUpperCase() : m.toLowerCase()));
}

const NOT_PLAIN_LOWER = /[A-Z\u0080-\uffff]/;
const NOT_PLAIN_UPPER = /[a-z\u0080-\uffff]/;
export function isLower(s: string): boolean {
  return !NOT_PLAIN_LOWER.test(s) || s === s.toLowerCase();
}
export function isUpper(s: string): boolean {
  return !NOT_PLAIN_UPPER.test(s) || s === s.toUpperCase();
}

const lowerValid = (v: unknown) => stringValid(v) && isLower(v as string);
const upperValid = (v: unknown) => stringValid(v) && isUpper(v as string);
const LowercaseString = define("LowercaseString", lowerValid, lowerSanitize,
  (v) => lowerValid(lowerSanitize(genericSanitize(v))));
const UppercaseString = define("UppercaseString", upperValid, upperSanitize);

// ---- classification ----

export const TAXONOMY_VALUES: readonly string[] = ["abusive-content", "availability", "fraud", "information-content-security",
  "information-gathering", "intrusion-attempts", "intrusions", "malicious-code", "other", "test", "vulnerable"];
const TAXONOMY_SET = new Set(TAXONOMY_VALUES);
const TAXONOMY_LEGACY: Record<string, string> = {
  "abusive content": "abusive-content", "information gathering": "information-gathering",
  "intrusion attempts": "intrusion-attempts", "malicious code": "malicious-code",
};

export const CLASSIFICATION_TYPES: readonly string[] = ["application-compromise", "blacklist", "brute-force", "burglary", "c2-server",
  "copyright", "data-leak", "data-loss", "ddos", "ddos-amplifier", "dga-domain", "dos", "exploit", "harmful-speech", "ids-alert",
  "infected-system", "information-disclosure", "malware", "malware-configuration", "malware-distribution", "masquerade",
  "misconfiguration", "other", "outage", "phishing", "potentially-unwanted-accessible", "privileged-account-compromise", "proxy",
  "sabotage", "scanner", "sniffing", "social-engineering", "spam", "system-compromise", "test", "tor",
  "unauthorised-information-access", "unauthorised-information-modification", "unauthorized-use-of-resources", "undetermined",
  "unprivileged-account-compromise", "violence", "vulnerable-system", "weak-crypto"];
const TYPE_SET = new Set(CLASSIFICATION_TYPES);
/** IntelMQ's legacy classification.type names and their current values. */
export const CLASSIFICATION_TYPE_LEGACY: Readonly<Record<string, string>> = {
  "botnet drone": "infected-system", "ids alert": "ids-alert", "c&c": "c2-server", "c2server": "c2-server",
  "infected system": "infected-system", "malware configuration": "malware-configuration",
  "vulnerable client": "vulnerable-system", "vulnerable service": "vulnerable-system", "leak": "data-leak",
  "ransomware": "infected-system", "unknown": "undetermined", "dga domain": "dga-domain",
  "unauthorized-login": "system-compromise", "unauthorized-command": "system-compromise", "compromised": "system-compromise",
  "defacement": "unauthorised-information-modification", "backdoor": "system-compromise", "dropzone": "other",
};

function mapped(v: unknown, legacy: Record<string, string>): string | null {
  const s = lowerSanitize(v);
  if (!s) return null;
  return genericSanitize(Object.hasOwn(legacy, s) ? legacy[s] : s);
}
const ClassificationTaxonomy = define("ClassificationTaxonomy",
  (v) => typeof v === "string" && TAXONOMY_SET.has(v), (v) => mapped(v, TAXONOMY_LEGACY));
const ClassificationType = define("ClassificationType",
  (v) => typeof v === "string" && TYPE_SET.has(v), (v) => mapped(v, CLASSIFICATION_TYPE_LEGACY));

// ---- DateTime ----

const DateTime = define("DateTime", (v) => typeof v === "string" && v.length > 0 && matchesIsoFormat(v), sanitizeDateTime);

// ---- numbers ----

function floatSanitize(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") return pyParseFloat(v);
  if (isBytes(v)) return pyParseFloat(decodeBytes(v));
  return null;
}
const floatValid = (v: unknown) => typeof v === "number" || v instanceof PyFloat;
const FloatT = define("Float", floatValid, floatSanitize, (v) => floatSanitize(v) !== null);

function accuracySanitize(v: unknown): number | null {
  if (typeof v === "boolean") return v ? 100 : 0;
  const f = floatSanitize(v);
  return f !== null && f >= 0 && f <= 100 ? f : null;
}
const Accuracy = define("Accuracy",
  (v) => typeof v === "boolean" || (typeof v === "number" && v >= 0 && v <= 100) || (v instanceof PyFloat && v.value >= 0 && v.value <= 100),
  accuracySanitize, (v) => accuracySanitize(v) !== null);

function intSanitize(v: unknown): number | bigint | null {
  if (typeof v === "number") return Number.isFinite(v) ? Math.trunc(v) : null;
  if (v instanceof PyFloat) return Number.isFinite(v.value) ? Math.trunc(v.value) : null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return v;
  if (typeof v === "string") return pyParseInt(v);
  if (isBytes(v)) return pyParseInt(decodeBytes(v));
  return null;
}
const intValid = (v: unknown) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
const Integer = define("Integer", intValid, intSanitize, (v) => intSanitize(v) !== null);

/** ASN.check_asn */
export function checkAsn(v: number | bigint): boolean {
  return v > 0 && v <= 4294967295;
}
function asnSanitize(v: unknown): number | bigint | null {
  let x = v;
  if (typeof x === "string" && x.toLowerCase().startsWith("as")) x = x.slice(2);
  const i = intSanitize(x);
  return i && checkAsn(i) ? i : null;
}
const ASN = define("ASN", (v) => intValid(v) && checkAsn(v as number), asnSanitize);

// ---- IP ----

/** IPAddress.is_valid without sanitize. */
export function ipValid(v: unknown): boolean {
  if (typeof v !== "string" || !v) return false;
  if (isIPv4(v)) return v !== "0.0.0.0";
  if (!v.includes(":") || v.includes("%")) return false;
  return parseIp(v) !== null;
}

function ipSanitize(v: unknown): string | null {
  let value: unknown = v;
  if (typeof value === "boolean") value = value ? 1 : 0;
  if (typeof value !== "number" && typeof value !== "bigint") {
    if (value instanceof PyFloat) value = value.value;
    else value = genericSanitize(value);
  }
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
const IPAddress = define("IPAddress", ipValid, ipSanitize);

function netSanitize(v: unknown): string | null {
  const g = genericSanitize(v);
  const n = parseNetwork(g === null ? "None" : g, false);
  return n ? genericSanitize(formatNetwork(n)) : null;
}
const IPNetwork = define("IPNetwork", (v) => stringValid(v) && parseNetwork(v as string, true) !== null, netSanitize);

// ---- FQDN ----

/**
 * C0 and C1 control characters and DEL. Our deliberate difference from IntelMQ: Python's idna codec
 * and urlsplit let ASCII controls through (only non-ASCII ones fail IDNA), so a feed's garbage could
 * reach an FQDN or URL field; here no FQDN or URL holds one.
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** The value's IDNA (2003) encoding as Python's 'idna' codec gives it, or null on UnicodeError. */
export function idnaEncode(s: string): string | null {
  if (/^[\x00-\x7f]*$/.test(s)) {
    const labels = s.split(".");
    for (let i = 0; i < labels.length - 1; i++) if (labels[i]!.length < 1 || labels[i]!.length > 63) return null;
    if (labels[labels.length - 1]!.length >= 64) return null;
    return s;
  }
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

export function fqdnValid(v: unknown): boolean {
  if (typeof v !== "string" || !v) return false;
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

function fqdnSanitize(v: unknown): string | null {
  const g = genericSanitize(v);
  if (typeof g !== "string" || CONTROL.test(g)) return null;
  const s = g.replace(/^\.+|\.+$/g, "");
  if (!s) return null;
  const e = idnaEncode(s);
  return e === null ? null : e.toLowerCase();
}
const FQDN = define("FQDN", fqdnValid, fqdnSanitize);

// ---- JSON ----

/** json.loads(); undefined when it raises. */
export function jsonLoads(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

const jsonValid = (v: unknown) => typeof v === "string" && jsonLoads(v) !== undefined;
/**
 * JSON/JSONDict sanitize: text (or bytes) valid as it is stays; other text is dumped as a JSON
 * string, any other value as JSON with sorted keys; `empty` values give null.
 */
function jsonSanitizer(valid: (v: unknown) => boolean, empty: (v: unknown) => boolean): (v: unknown) => string | null {
  return (v) => {
    if (empty(v)) return null;
    if (typeof v === "string" || isBytes(v)) {
      const s = genericSanitize(v);
      if (valid(s)) return s;
      if (isBytes(v)) return null;
    }
    try { return genericSanitize(pyJsonDumps(v, { sortKeys: true })); } catch { return null; }
  };
}
const JSONT = define("JSON", jsonValid, jsonSanitizer(jsonValid, (v) => v === null || v === undefined));

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !isBytes(v) && !(v instanceof PyFloat) && !(v instanceof Set) && !(v instanceof Map);
}
export function jsonDictValid(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const o = jsonLoads(v);
  if (!isPlainObject(o)) return false;
  for (const _ in o) return true;
  return false;
}
const JSONDict = define("JSONDict", jsonDictValid, jsonSanitizer(jsonDictValid, pyFalsy));

// ---- URL ----

export function urlValid(v: unknown): boolean {
  if (typeof v !== "string" || !v || CONTROL.test(v)) return false;
  if (isPyAsciiWhitespace(v.charCodeAt(0))) return false;
  const n = netlocOf(v);
  return n !== null && n !== "";
}

function urlSanitize(v: unknown): string | null {
  let value = genericSanitize(v);
  if (!value || CONTROL.test(value)) return null;
  value = value.replaceAll("hxxp://", "http://").replaceAll("hxxps://", "https://");
  let r = urlsplit(value);
  if (!r) return null;
  if (r.scheme === "file" && r.netloc === "") {
    value = urlunsplit({ ...r, netloc: "localhost" });
    r = urlsplit(value);
    if (!r) return null;
  }
  return r.netloc !== "" ? value : null;
}
const URL = define("URL", urlValid, urlSanitize);

// ---- enumerations ----

const REGISTRIES = new Set(["AFRINIC", "APNIC", "ARIN", "LACNIC", "RIPE"]);
function registrySanitize(v: unknown): string | null {
  const s = upperSanitize(v);
  return s === "RIPENCC" || s === "RIPE-NCC" ? "RIPE" : s;
}
const Registry = define("Registry", (v) => upperValid(v) && REGISTRIES.has(v as string), registrySanitize);

const TLPS = new Set(["WHITE", "GREEN", "AMBER", "RED"]);
function tlpSanitize(v: unknown): string | null {
  let s = upperSanitize(v);
  if (s) {
    s = s.replace(/^(TLP:?)?\s*/u, "");
    if (s === "YELLOW") s = "AMBER";
  }
  return s;
}
const TLP = define("TLP", (v) => upperValid(v) && TLPS.has(v as string), tlpSanitize);

/** All types by IntelMQ class name (String, Integer, ..., ClassificationType). */
export const types: Readonly<Record<string, HarmonizationType>> = Object.freeze({
  GenericType, String: StringT, Base64, Boolean: BooleanT, ClassificationTaxonomy, ClassificationType, DateTime,
  Float: FloatT, Accuracy, FQDN, Integer, ASN, IPAddress, IPNetwork, JSON: JSONT, JSONDict, LowercaseString,
  URL, UppercaseString, Registry, TLP,
});

/** Whether a type holds floats in IntelMQ (its values print as `1.0`). */
export function isFloatType(name: string): boolean {
  return name === "Float" || name === "Accuracy";
}
