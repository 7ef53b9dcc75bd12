// SPDX-License-Identifier: AGPL-3.0-only
/** The Public Suffix List algorithm (publicsuffix.org/list): rules, wildcards and exceptions. */
import { domainToASCII } from "node:url";

export class PublicSuffixList {
  readonly #rules = new Set<string>();
  readonly #wildcards = new Set<string>();
  readonly #exceptions = new Set<string>();

  /** Parse the list's text; with onlyIcann the private section (// ===BEGIN PRIVATE DOMAINS===) is left out. */
  constructor(text: string, onlyIcann = true) {
    let section: "none" | "icann" | "private" = "none";
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line.startsWith("//")) {
        if (line.includes("===BEGIN ICANN DOMAINS===")) section = "icann";
        else if (line.includes("===BEGIN PRIVATE DOMAINS===")) section = "private";
        else if (line.includes("===END ICANN DOMAINS===") || line.includes("===END PRIVATE DOMAINS===")) section = "none";
        continue;
      }
      if (line === "" || (onlyIcann && section === "private")) continue;
      const rule = line.split(/\s/)[0]!;
      if (rule.startsWith("!")) this.#exceptions.add(ascii(rule.slice(1)));
      else if (rule.startsWith("*.")) this.#wildcards.add(ascii(rule.slice(2)));
      else this.#rules.add(ascii(rule));
    }
  }

  get size(): number {
    return this.#rules.size + this.#wildcards.size + this.#exceptions.size;
  }

  /** The public suffix of a domain, in the domain's own form (punycode stays punycode); null for an empty name. */
  publicSuffix(domain: string): string | null {
    const labels = domain.replace(/\.$/, "").split(".");
    if (labels.some((l) => l === "")) return null;
    const keys = labels.map((l) => ascii(l));
    let n = 1; // the implicit rule "*": the last label
    for (let i = 0; i < keys.length; i++) {
      const tail = keys.slice(i).join(".");
      const len = keys.length - i;
      // An exception wins over everything and leaves its first label out.
      if (this.#exceptions.has(tail)) { n = len - 1; break; }
      if (this.#rules.has(tail) && len > n) n = len;
      if (i > 0 && this.#wildcards.has(tail) && len + 1 > n) n = len + 1;
    }
    return labels.slice(labels.length - n).join(".");
  }
}

/** A label or name in lower-case ASCII (IDNA), so that rules and names in either form match. */
function ascii(s: string): string {
  const a = domainToASCII(s.toLowerCase());
  return a === "" ? s.toLowerCase() : a;
}
