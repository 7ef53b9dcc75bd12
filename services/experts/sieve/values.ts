// SPDX-License-Identifier: AGPL-3.0-only
/** Python value semantics the sieve needs: str() of event values, set members, IP addresses and networks. */
import { PyFloat, PythonError, parseIp, parseNetwork, pyJsonDumps, pyStr, type IpAddr } from "../../../shared/sdk/index.js";

/** Python's type name of a message value. */
export function pyType(v: unknown): string {
  switch (typeof v) {
    case "string": return "str";
    case "boolean": return "bool";
    case "number": return Number.isInteger(v) ? "int" : "float";
  }
  if (v === null || v === undefined) return "NoneType";
  if (v instanceof PyFloat) return "float";
  return Array.isArray(v) ? "list" : "dict";
}

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyFloat) && !(v instanceof Uint8Array);

/** The text string operators see: strings as they are, dicts as JSON, anything else as Python's str(). */
export function toText(v: unknown, float: boolean): string {
  if (typeof v === "string") return v;
  return isDict(v) ? pyJsonDumps(v) : pyStr(v, float);
}

/** A set member standing for a Python value: 1, 1.0 and True are one member; lists and dicts are unhashable. */
export function hashable(v: unknown): string {
  switch (typeof v) {
    case "string": return "s" + v;
    case "boolean": return "n" + (v ? 1 : 0);
    case "number": return "n" + v;
  }
  if (v === null || v === undefined) return "N";
  if (v instanceof PyFloat) return "n" + v.value;
  throw new PythonError("TypeError", `unhashable type: '${pyType(v)}'`);
}

let lastText: string | null = null;
let lastAddr: IpAddr | null = null;

/** Python's ipaddress.ip_address(): strings and (non-negative) integers; null where it raises ValueError. */
export function toAddress(v: unknown): IpAddr | null {
  if (typeof v === "string") {
    // Several rules usually test the same event's address: parse it once.
    if (v !== lastText) { lastText = v; lastAddr = parseIp(v); }
    return lastAddr;
  }
  const n = typeof v === "boolean" ? +v : typeof v === "number" ? v : null;
  if (n === null || !Number.isInteger(n) || n < 0) return null;
  if (n < 2 ** 32) return { version: 4, v4: n, v6: 0n };
  return BigInt(n) < 1n << 128n ? { version: 6, v4: 0, v6: BigInt(n) } : null;
}

export interface Network { version: 4 | 6; v4: number; mask4: number; v6: bigint; mask6: bigint }

/** ipaddress.ip_network(text, strict=False) with its masks; null where Python raises ValueError. */
export function toNetwork(text: string): Network | null {
  const n = parseNetwork(text, false);
  if (!n) return null;
  if (n.version === 4) {
    const mask4 = n.prefix === 0 ? 0 : (0xffffffff << (32 - n.prefix)) >>> 0;
    return { version: 4, v4: n.addr.v4, mask4, v6: 0n, mask6: 0n };
  }
  const all = (1n << 128n) - 1n;
  const mask6 = n.prefix === 0 ? 0n : all ^ ((1n << BigInt(128 - n.prefix)) - 1n);
  return { version: 6, v4: 0, mask4: 0, v6: n.addr.v6, mask6 };
}

/** `address in network`: False across IP versions, as in Python. */
export function inNetwork(a: IpAddr, n: Network): boolean {
  if (a.version !== n.version) return false;
  return a.version === 4 ? ((a.v4 & n.mask4) >>> 0) === n.v4 : (a.v6 & n.mask6) === n.v6;
}
