// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A small MaxMind DB (.mmdb) writer for tests: an IPv6 search tree (IPv4 networks under ::/96, where
 * readers look for IPv4 addresses) with 32-bit records, the data section and the metadata, as the
 * MaxMind DB format 2.0 describes them (https://maxmind.github.io/MaxMind-DB/). No npm package
 * writes the format; GeoLite2 files themselves cannot be shipped with tests.
 */
import { parseNetwork } from "../../shared/sdk/index.js";

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue } | { double: number } | { uint64: bigint };

interface TrieNode { kids: [TrieNode | null, TrieNode | null]; data: number | null; id?: number }

function ctrl(type: number, size: number): Buffer {
  const ext = type > 7;
  let sizeBits: number; let extra: Buffer;
  if (size < 29) { sizeBits = size; extra = Buffer.alloc(0); } else if (size < 285) { sizeBits = 29; extra = Buffer.from([size - 29]); } else if (size < 65821) {
    sizeBits = 30; extra = Buffer.alloc(2); extra.writeUInt16BE(size - 285);
  } else { sizeBits = 31; extra = Buffer.alloc(3); extra.writeUIntBE(size - 65821, 0, 3); }
  const first = Buffer.from([((ext ? 0 : type) << 5) | sizeBits]);
  return Buffer.concat(ext ? [first, Buffer.from([type - 7]), extra] : [first, extra]);
}

function uint(type: number, n: bigint): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0n; v >>= 8n) bytes.unshift(Number(v & 255n));
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
}

function encode(v: MmdbValue): Buffer {
  if (typeof v === "string") { const b = Buffer.from(v, "utf8"); return Buffer.concat([ctrl(2, b.length), b]); }
  if (typeof v === "boolean") return ctrl(14, v ? 1 : 0);
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return uint(v < 65536 ? 5 : 6, BigInt(v));
    const b = Buffer.alloc(8); b.writeDoubleBE(v); return Buffer.concat([ctrl(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map(encode)]);
  if ("double" in v && typeof v.double === "number") { const b = Buffer.alloc(8); b.writeDoubleBE(v.double); return Buffer.concat([ctrl(3, 8), b]); }
  if ("uint64" in v && typeof v.uint64 === "bigint") return uint(9, v.uint64);
  const entries = Object.entries(v as Record<string, MmdbValue>);
  return Buffer.concat([ctrl(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** Write a database mapping networks ("192.0.2.0/24", "2001:db8::/32") to records. */
export function writeMmdb(records: Record<string, MmdbValue>, opts: { databaseType?: string; languages?: string[] } = {}): Buffer {
  const root: TrieNode = { kids: [null, null], data: null };
  const data: Buffer[] = [];
  let dataLen = 0;
  for (const [network, value] of Object.entries(records)) {
    const n = parseNetwork(network, false);
    if (!n) throw new Error(`not a network: ${network}`);
    const bits = n.version === 4 ? BigInt(n.addr.v4) : n.addr.v6;
    const len = n.version === 4 ? 96 + n.prefix : n.prefix;
    const offset = dataLen;
    const enc = encode(value);
    data.push(enc);
    dataLen += enc.length;
    let node = root;
    for (let i = 0; i < len; i++) {
      const bit = Number((bits >> BigInt(127 - i)) & 1n);
      if (i === len - 1) { node.kids[bit] = { kids: [null, null], data: offset }; break; }
      node = node.kids[bit] ??= { kids: [null, null], data: null };
      if (node.data !== null) throw new Error(`${network} lies in a network given before`);
    }
  }
  // number the inner nodes breadth first (the root is node 0)
  const inner: TrieNode[] = [];
  const queue: TrieNode[] = [root];
  while (queue.length) {
    const n = queue.shift()!;
    n.id = inner.length;
    inner.push(n);
    for (const k of n.kids) if (k && k.data === null) queue.push(k);
  }
  const count = inner.length;
  const tree = Buffer.alloc(count * 8);
  inner.forEach((n, i) => {
    n.kids.forEach((k, side) => {
      const rec = k === null ? count : k.data !== null ? count + 16 + k.data : k.id!;
      tree.writeUInt32BE(rec, i * 8 + side * 4);
    });
  });
  const meta = encode({
    node_count: count, record_size: 32, ip_version: 6,
    database_type: opts.databaseType ?? "GeoLite2-City", languages: opts.languages ?? ["en"],
    binary_format_major_version: 2, binary_format_minor_version: 0,
    build_epoch: { uint64: 1700000000n }, description: { en: "test database" },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from("abcdef4d61784d696e642e636f6d", "hex"), meta]);
}
