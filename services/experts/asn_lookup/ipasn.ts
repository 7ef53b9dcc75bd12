// SPDX-License-Identifier: AGPL-3.0-only
/** pyasn's IPASN data file (`<prefix>\t<asn>` lines, `;` comments) with longest-prefix match. */
import { parseNetwork, parseIp } from "../../../shared/sdk/index.js";

export interface AsnMatch { asn: number; network: string }

/** Per address family: prefix length -> network address (as string key) -> match, longest lengths first. */
class Table {
  readonly byLength = new Map<number, Map<string, AsnMatch>>();
  lengths: number[] = [];
  add(prefix: number, key: string, m: AsnMatch): void {
    let t = this.byLength.get(prefix);
    if (!t) {
      this.byLength.set(prefix, (t = new Map()));
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    t.set(key, m);
  }
}

const maskV4 = (v: number, len: number) => (len === 0 ? 0 : (v & (~0 << (32 - len))) >>> 0);
const maskV6 = (v: bigint, len: number) => (len === 0 ? 0n : (v >> BigInt(128 - len)) << BigInt(128 - len));

export class IpAsnDb {
  readonly #v4 = new Table();
  readonly #v6 = new Table();
  size = 0;

  /** Parse the file; a line that is not `<network>\t<asn>` throws (a broken download must not be installed). */
  static parse(text: string): IpAsnDb {
    const db = new IpAsnDb();
    let lineNo = 0;
    for (const raw of text.split("\n")) {
      lineNo++;
      const line = raw.trim();
      if (line === "" || line.startsWith(";")) continue;
      const [net, asn, extra] = line.split(/\s+/);
      const n = net ? parseNetwork(net, false) : null;
      if (!n || !asn || !/^\d+$/.test(asn) || extra !== undefined) throw new Error(`line ${lineNo} is not "<network>\\t<asn>": ${JSON.stringify(raw.slice(0, 80))}`);
      const m = { asn: Number(asn), network: net! };
      if (n.version === 4) db.#v4.add(n.prefix, String(maskV4(n.addr.v4, n.prefix)), m);
      else db.#v6.add(n.prefix, maskV6(n.addr.v6, n.prefix).toString(16), m);
      db.size++;
    }
    if (db.size === 0) throw new Error("no prefixes in the file");
    return db;
  }

  lookup(ip: string): AsnMatch | null {
    const a = parseIp(ip);
    if (!a) return null;
    if (a.version === 4) {
      for (const len of this.#v4.lengths) {
        const m = this.#v4.byLength.get(len)!.get(String(maskV4(a.v4, len)));
        if (m) return m;
      }
    } else {
      for (const len of this.#v6.lengths) {
        const m = this.#v6.byLength.get(len)!.get(maskV6(a.v6, len).toString(16));
        if (m) return m;
      }
    }
    return null;
  }
}
