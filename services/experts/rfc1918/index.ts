// SPDX-License-Identifier: AGPL-3.0-only
/**
 * RFC 1918 expert: removes fields or drops events whose IP address, domain, URL host or ASN is
 * private, reserved or for documentation (IntelMQ's intelmq.bots.experts.rfc1918.expert).
 */
import { z } from "zod";
import { parseIp, parseNetwork, urlsplit, type IpAddr, type IpNet, defineBot } from "../../../shared/sdk/index.js";

const NETWORKS = [
  "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
  "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
  "255.255.255.255/32", "fe80::/64", "2001:0db8::/32",
].map((n) => parseNetwork(n, true)!);
// The documentation domains themselves; the TLDs and their subdomains are matched by suffix.
const DOMAINS = new Set(["example.com", "example.net", "example.org"]);
const SUFFIXES = [".test", ".example", ".invalid", ".localhost", ".example.com", ".example.net", ".example.org"];
/** Documentation ASNs: 64496-64511 (16 bit) and 65536-65551 (32 bit). */
const isDocumentationAsn = (asn: number) => (asn >= 64496 && asn <= 64511) || (asn >= 65536 && asn <= 65551);

const V4_ALL = 0xffffffff;
const V6_ALL = (1n << 128n) - 1n;

function inNetwork(ip: IpAddr, net: IpNet): boolean {
  if (ip.version !== net.version) return false;
  if (ip.version === 4) {
    const mask = net.prefix === 0 ? 0 : (V4_ALL << (32 - net.prefix)) >>> 0;
    return ((ip.v4 & mask) >>> 0) === ((net.addr.v4 & mask) >>> 0);
  }
  const mask = V6_ALL ^ ((1n << BigInt(128 - net.prefix)) - 1n);
  return (ip.v6 & mask) === (net.addr.v6 & mask);
}

const reservedIp = (ip: IpAddr) => NETWORKS.some((n) => inNetwork(ip, n));
const reservedDomain = (d: string) => DOMAINS.has(d) || SUFFIXES.some((s) => d.endsWith(s));

const count = (s: string) => s.trim().split(",").length;

export const params = z.object({
  fields: z.string().default("destination.ip,source.ip,source.url").describe("Comma-separated fields to check (*.ip, *.fqdn, *.url, *.asn)"),
  policy: z.string().default("del,drop,drop").describe("Comma-separated action per field: del removes the field, drop discards the event"),
}).strict().superRefine((v, c) => {
  // Checked here, so that `intelmqctl check` reports it too.
  if (count(v.fields) !== count(v.policy)) {
    c.addIssue({ code: "custom", path: ["policy"], message: `Length of parameters 'fields' (${count(v.fields)}) and 'policy' (${count(v.policy)}) is unequal.` });
  }
});

export default defineBot({
  kind: "expert",
  name: "rfc1918",
  intelmq: "intelmq.bots.experts.rfc1918.expert",
  description: "Removes fields or drops events whose IP address, domain, URL or ASN is private, reserved or for documentation (RFC 1918, 2606, 3849, 4291, 5737)",
  params,
  create: (prm, ctx) => {
    const fields = prm.fields.toLowerCase().trim().split(",");
    const policy = prm.policy.toLowerCase().trim().split(",");
    return {
      process(event) {
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i]!;
          if (!event.has(field)) continue;
          const value = event.get(field);
          let hit = false;
          if (field.endsWith(".ip")) {
            const ip = parseIp(String(value));
            hit = ip !== null && reservedIp(ip);
          } else if (field.endsWith(".fqdn")) {
            hit = reservedDomain(String(value));
          } else if (field.endsWith(".url")) {
            // The whole netloc, as IntelMQ compares it: with a port or user info it is neither an
            // address nor a listed domain.
            const netloc = urlsplit(String(value))?.netloc ?? "";
            const ip = parseIp(netloc);
            hit = ip !== null ? reservedIp(ip) : reservedDomain(netloc);
          } else if (field.endsWith(".asn")) {
            hit = typeof value === "number" && isDocumentationAsn(value);
          }
          if (!hit) continue;
          if (policy[i] === "drop") {
            ctx.log.debug("Dropping event.");
            return null;
          }
          if (policy[i] === "del") {
            ctx.log.debug(`Value removed from ${field}.`);
            event.delete(field);
          }
          // As IntelMQ: the first field that matches decides, the others are not looked at.
          break;
        }
        return event;
      },
    };
  },
});
