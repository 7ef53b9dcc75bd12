// SPDX-License-Identifier: AGPL-3.0-only
// IP addresses and networks parsed and printed as Python's ipaddress module does.

/** A parsed address: IPv4 as a number, IPv6 as a bigint; scope id kept apart. */
export interface IpAddr {
  version: 4 | 6;
  v4: number;
  v6: bigint;
  scope?: string;
}

/**
 * What parseIPv4() parses, as one compiled scan: an address cut from a larger text is a slice
 * of it, which a charCodeAt loop unwraps at every character.
 */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A canonical dotted quad (Python's IPv4 syntax: no leading zeros). Fast path. */
export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** Parse IPv4 as Python: 4 octets of 1-3 ASCII digits, no leading zeros, <= 255. */
export function parseIPv4(s: string): number | null {
  // read from the characters: a match array and four substrings per address cost more
  const n = s.length;
  if (n < 7 || n > 15) return null;
  let v = 0, octet = 0, digits = 0, parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || parts === 4) return null;
      v = v * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && octet === 0)) return null; // a digit; no leading zero
    octet = octet * 10 + d;
    if (++digits > 3 || octet > 255) return null;
  }
  return parts === 4 ? v : null;
}

const HEX_RE = /^[0-9a-fA-F]{1,4}$/;

/** Parse IPv6 as Python (optional embedded IPv4 at the end, one '::', scope id after '%'). */
export function parseIPv6(input: string): { v6: bigint; scope?: string } | null {
  let s = input;
  let scope: string | undefined;
  const pct = s.indexOf("%");
  if (pct >= 0) {
    scope = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (!scope || scope.includes("%")) return null;
  }
  if (!s) return null;
  const parts = s.split(":");
  if (parts.length < 3) return null;
  const last = parts[parts.length - 1]!;
  if (last.includes(".")) {
    const v4 = parseIPv4(last);
    if (v4 === null) return null;
    parts.pop();
    parts.push(((v4 >>> 16) & 0xffff).toString(16), (v4 & 0xffff).toString(16));
  }
  if (parts.length > 9) return null;
  let skip = -1;
  for (let i = 1; i < parts.length - 1; i++) {
    if (!parts[i]) {
      if (skip >= 0) return null;
      skip = i;
    }
  }
  let hi: number, lo: number, skipped: number;
  if (skip >= 0) {
    hi = skip;
    lo = parts.length - skip - 1;
    if (!parts[0]) { hi--; if (hi) return null; }
    if (!parts[parts.length - 1]) { lo--; if (lo) return null; }
    skipped = 8 - (hi + lo);
    if (skipped < 1) return null;
  } else {
    if (parts.length !== 8 || !parts[0] || !parts[7]) return null;
    hi = 8; lo = 0; skipped = 0;
  }
  let v = 0n;
  for (let i = 0; i < hi; i++) {
    if (!HEX_RE.test(parts[i]!)) return null;
    v = (v << 16n) | BigInt(parseInt(parts[i]!, 16));
  }
  v <<= 16n * BigInt(skipped);
  for (let i = parts.length - lo; i < parts.length; i++) {
    if (!HEX_RE.test(parts[i]!)) return null;
    v = (v << 16n) | BigInt(parseInt(parts[i]!, 16));
  }
  return scope === undefined ? { v6: v } : { v6: v, scope };
}

/** Python's ipaddress.ip_address(str): IPv4 first, then IPv6. */
export function parseIp(s: string): IpAddr | null {
  const v4 = parseIPv4(s);
  if (v4 !== null) return { version: 4, v4, v6: 0n };
  const r = parseIPv6(s);
  if (!r) return null;
  return r.scope === undefined ? { version: 6, v4: 0, v6: r.v6 } : { version: 6, v4: 0, v6: r.v6, scope: r.scope };
}

/** Python's ipaddress.ip_address(int). */
export function ipFromInt(n: number | bigint): IpAddr | null {
  const b = typeof n === "bigint" ? n : Number.isInteger(n) ? BigInt(n) : null;
  if (b === null || b < 0n) return null;
  if (b < 1n << 32n) return { version: 4, v4: Number(b), v6: 0n };
  if (b < 1n << 128n) return { version: 6, v4: 0, v6: b };
  return null;
}

function formatIPv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** IPv6 as Python prints it: lowercase, leading zeros dropped, longest run (>1) of zero hextets as '::'. */
function formatIPv6(v: bigint, scope?: string): string {
  const h: string[] = [];
  for (let i = 7; i >= 0; i--) h.push(Number((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  let bestStart = -1, bestLen = 0, start = -1, len = 0;
  for (let i = 0; i < 8; i++) {
    if (h[i] === "0") {
      len++;
      if (start === -1) start = i;
      if (len > bestLen) { bestLen = len; bestStart = start; }
    } else { len = 0; start = -1; }
  }
  let out: string;
  if (bestLen > 1) {
    const left = h.slice(0, bestStart).join(":");
    const right = h.slice(bestStart + bestLen).join(":");
    out = `${left}::${right}`;
  } else out = h.join(":");
  return scope === undefined ? out : `${out}%${scope}`;
}

export function formatIp(a: IpAddr): string {
  return a.version === 4 ? formatIPv4(a.v4) : formatIPv6(a.v6, a.scope);
}

/** A parsed network: address (masked unless strict failed) and prefix length. */
export interface IpNet {
  version: 4 | 6;
  addr: IpAddr;
  prefix: number;
}

function prefixFromMask(m: number): number | null {
  // contiguous leading ones only
  let p = 0;
  while (p < 32 && (m & (0x80000000 >>> p)) !== 0) p++;
  const rest = p === 32 ? 0 : (m << p) >>> 0;
  return rest === 0 ? p : null;
}

/** Python's ipaddress.ip_network(str, strict); null where Python raises ValueError. */
export function parseNetwork(s: string, strict: boolean): IpNet | null {
  const parts = s.split("/");
  if (parts.length > 2) return null;
  const addrPart = parts[0]!;
  const maskPart = parts.length === 2 ? parts[1]! : undefined;
  const v4 = parseIPv4(addrPart);
  if (v4 !== null) {
    let prefix = 32;
    if (maskPart !== undefined) {
      if (/^[0-9]+$/.test(maskPart)) {
        prefix = Number(maskPart);
        if (prefix > 32) return null;
      } else {
        const m = parseIPv4(maskPart);
        if (m === null) return null;
        let p = prefixFromMask(m);
        if (p === null) p = prefixFromMask((~m) >>> 0);
        if (p === null) return null;
        prefix = p;
      }
    }
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const net = (v4 & mask) >>> 0;
    if (strict && net !== v4) return null;
    return { version: 4, addr: { version: 4, v4: net, v6: 0n }, prefix };
  }
  const r = parseIPv6(addrPart);
  if (!r || r.scope !== undefined) return null;
  let prefix = 128;
  if (maskPart !== undefined) {
    if (!/^[0-9]+$/.test(maskPart)) return null;
    prefix = Number(maskPart);
    if (prefix > 128) return null;
  }
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  const net = r.v6 & mask;
  if (strict && net !== r.v6) return null;
  return { version: 6, addr: { version: 6, v4: 0, v6: net }, prefix };
}

export function formatNetwork(n: IpNet): string {
  return `${formatIp(n.addr)}/${n.prefix}`;
}

/** dnspython's reversename.from_address(). */
export function reverseName(ip: IpAddr): string {
  if (ip.version === 4) {
    return formatIPv4(ip.v4).split(".").reverse().join(".") + ".in-addr.arpa.";
  }
  const hexs = ip.v6.toString(16).padStart(32, "0");
  return hexs.split("").reverse().join(".") + ".ip6.arpa.";
}
