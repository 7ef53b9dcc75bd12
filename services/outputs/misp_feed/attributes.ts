// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP attributes of IntelMQ fields for the `intelmq_event` object (shared by the MISP outputs):
 * the attribute type by the field's kind, values as MISP keeps them (text).
 */
import { pyStr } from "../../../shared/sdk/index.js";

/** The MISP attribute type of an IntelMQ field. */
export function mispType(field: string): string {
  const side = field.startsWith("destination.") ? "dst" : "src";
  const last = field.slice(field.lastIndexOf(".") + 1);
  if (field === "raw") return "text";
  if (/^(source|destination)\.(ip|local_ip)$/.test(field)) return `ip-${side}`;
  if (/^(source|destination)\.network$/.test(field)) return `ip-${side}`;
  if (/^(source|destination)\.fqdn$/.test(field) || last === "reverse_dns") return "hostname";
  if (/\.url$/.test(field) || last === "url") return "url";
  if (last === "port") return "port";
  if (last === "asn") return "AS";
  if (/^malware\.hash\.(md5|sha1|sha256)$/.test(field)) return last;
  if (field.startsWith("time.")) return "datetime";
  if (/abuse_contact$|\.email$/.test(field)) return "email-src";
  return "text";
}

/** Python's str() of a value, JSON text for dicts (extra as jsondict_as_string gives it). */
export function mispValue(v: unknown): string {
  return typeof v === "string" ? v : pyStr(v);
}
