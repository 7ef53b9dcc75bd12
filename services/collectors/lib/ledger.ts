// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What a collector fetched and the broker stored, until commit() marks it fetched at the source
 * (cache entry, MISP tag, resolved ticket, deleted blob). An item (a report file, an event, a
 * ticket) has parts, one report each; it is ready once it was fetched whole and every part's report
 * was stored. A part stored in a round that failed later is not fetched and sent again in the next
 * round: the ledger remembers it until its item is committed.
 */
import type { Report } from "../../../shared/sdk/index.js";

interface Item<T> { value: T; parts: Set<string>; whole: boolean }

export class Ledger<T = undefined> {
  readonly #partOf = new WeakMap<Report, string>();
  readonly #stored = new Set<string>();
  readonly #items = new Map<string, Item<T>>();

  /** An item is being fetched (again): its parts are named anew by part(). */
  begin(key: string, value: T): void {
    this.#items.set(key, { value, parts: new Set(), whole: false });
  }

  /** The part `part` of `key` was stored by the broker in an earlier round (do not send it again). */
  stored(part: string): boolean {
    return this.#stored.has(part);
  }

  /** A part of item `key`; `report` is its report now being sent (none when it was stored before). */
  part(key: string, part: string, report?: Report): void {
    this.#items.get(key)?.parts.add(part);
    if (report) this.#partOf.set(report, part);
  }

  /** Every part of `key` was named: it may be committed once they are stored. */
  end(key: string): void {
    const it = this.#items.get(key);
    if (it) it.whole = true;
  }

  /** For CollectorImpl.queued: the report's part is stored. */
  queued(report: Report): void {
    const part = this.#partOf.get(report);
    if (part !== undefined) this.#stored.add(part);
  }

  /** Items fetched whole whose parts are all stored, oldest first. */
  ready(): [string, T][] {
    const out: [string, T][] = [];
    for (const [key, it] of this.#items) {
      if (it.whole && [...it.parts].every((p) => this.#stored.has(p))) out.push([key, it.value]);
    }
    return out;
  }

  /** The item was marked fetched at the source: forget it and its parts. */
  done(key: string): void {
    const it = this.#items.get(key);
    if (!it) return;
    for (const p of it.parts) this.#stored.delete(p);
    this.#items.delete(key);
  }

  /** Items begun and not committed. */
  get size(): number { return this.#items.size; }
}
