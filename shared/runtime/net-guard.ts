// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Where feed data may make a bot connect: a redirect (or any address taken from what a server
 * sent) must not lead to this machine or its private networks unless the operator allows it.
 */
import { BlockList, isIP } from "node:net";
import { lookup } from "node:dns/promises";

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16],
  ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) PRIVATE.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) PRIVATE.addSubnet(net, bits, "ipv6");

/** Loopback, link-local, private, shared, multicast or unspecified (IPv4-mapped IPv6 as its IPv4). */
export function isPrivateAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return PRIVATE.check(mapped[1]!, "ipv4");
  const v = isIP(ip);
  if (v === 4) return PRIVATE.check(ip, "ipv4");
  if (v === 6) return PRIVATE.check(ip, "ipv6");
  return false;
}

/** Why connecting to `url` is refused (its host is or resolves to a private address), or null. */
export async function privateTarget(url: string): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return `${host} is this machine`;
  const addrs = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  const bad = addrs.find(isPrivateAddress);
  return bad ? `${host} is ${bad === host ? "" : `${bad}, `}a loopback, link-local or private address` : null;
}
