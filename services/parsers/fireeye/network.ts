// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The network indicators of a FireEye alert, read from the text of its <Indicator> as IntelMQ
 * reads them: each item's Context search names the field, the Content its value. A host that is
 * no IPv4 address is left out; the URL is made of the DNS name and the request URI.
 */
import { LineError, type Event } from "../../../shared/sdk/index.js";

const FIELDS: Readonly<Record<string, string>> = {
  "Network/HTTP/RequestURI": "destination.urlpath",
  "Network/HTTP/Host": "destination.ip",
  "Network/Connection/RemotePort": "destination.port",
  // named, but never added (as in IntelMQ)
  "Network/Connection/Protocol": "protocol.transport",
  "Network/DNS": "destination.fqdn",
};

/** Python's ipaddress.IPv4Network(text) (strict): an address, or a network without host bits. */
export function isIPv4Network(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o, k) => o > 255 || (m[k + 1]!.length > 1 && m[k + 1]!.startsWith("0")))) return false;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (prefix > 32) return false;
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const host = prefix === 32 ? 0 : (2 ** (32 - prefix)) - 1;
  return (n & host) >>> 0 === 0;
}

export function networkIndicators(event: Event, indicator: string): void {
  let fqdn = "";
  let urlpath = "";
  for (const item of indicator.split("<IndicatorItem condition")) {
    if (!item.includes("search=")) continue;
    for (const part of item.split('search="')) {
      let field = "";
      if (part.includes('"/>')) field = FIELDS[part.split('"/>')[0]!] ?? "";
      if (!part.includes("Content")) continue;
      const pieces = part.split('">');
      if (pieces.length < 2) throw new LineError("a network indicator's Content has no value");
      const value = pieces[1]!.split("</Content>")[0]!;
      // the URL once both its host and path were seen
      if (fqdn !== "" && urlpath !== "") {
        event.add("destination.url", `http://${fqdn}${urlpath}`);
        urlpath = "";
      }
      if (field === "destination.ip") {
        if (isIPv4Network(value)) event.add("destination.ip", value);
        break;
      } else if (field === "destination.fqdn") {
        fqdn = value;
        event.add(field, value);
      } else if (field === "destination.urlpath") {
        urlpath = value;
        event.add(field, value);
      } else if (field === "destination.port") {
        if (!/^\s*[+-]?\d+\s*$/.test(value)) throw new LineError(`the remote port ${JSON.stringify(value)} is no integer`);
        event.add(field, Number(value));
      }
    }
  }
}
