// SPDX-License-Identifier: AGPL-3.0-only
// IntelMQ's harmonization types with the exact is_valid/sanitize semantics of intelmq/lib/harmonization.py:
// the table of types, the small ones here; text basics in generic.ts, Base64 in base64.ts, the
// network names in network.ts, JSON in json.ts.
import { b64Decodable, base64Encode } from "./base64.js";
import { matchesIsoFormat, sanitizeDateTime } from "./datetime.js";
import { genericSanitize, isBytes, stringValid } from "./generic.js";
import { jsonDictValid, jsonSanitizer, jsonValid } from "./json.js";
import { fqdnSanitize, fqdnValid, ipSanitize, ipValid, netSanitize, urlSanitize, urlValid } from "./network.js";
import { parseNetwork } from "./ip.js";
import { decodeBytes, pyFalsy, pyParseFloat, pyParseInt, pyStrip, PyFloat } from "./py.js";

/** An IntelMQ harmonization type: IntelMQ's static is_valid/sanitize semantics. */
export interface HarmonizationType {
  readonly name: string;
  /** IntelMQ's is_valid(value, sanitize): with sanitize, the value is sanitized first. */
  isValid(value: unknown, sanitize?: boolean): boolean;
  /** IntelMQ's sanitize(value): the sanitized value, or null when it cannot be sanitized. */
  sanitize(value: unknown): unknown;
  /** isValid(value, false) itself: compiled fields call it without the step between. */
  readonly valid: (value: unknown) => boolean;
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
    valid,
  };
}

// ---- GenericType / String ----

const GenericType = define("GenericType", stringValid, genericSanitize);
const StringT = define("String", stringValid, genericSanitize);

// ---- Base64 ----

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
function isLower(s: string): boolean {
  return !NOT_PLAIN_LOWER.test(s) || s === s.toLowerCase();
}
function isUpper(s: string): boolean {
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

const IPAddress = define("IPAddress", ipValid, ipSanitize);

const IPNetwork = define("IPNetwork", (v) => stringValid(v) && parseNetwork(v as string, true) !== null, netSanitize);

// ---- FQDN ----

const FQDN = define("FQDN", fqdnValid, fqdnSanitize);

// ---- JSON ----

const JSONT = define("JSON", jsonValid, jsonSanitizer(jsonValid, (v) => v === null || v === undefined));

const JSONDict = define("JSONDict", jsonDictValid, jsonSanitizer(jsonDictValid, pyFalsy));

// ---- URL ----

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
