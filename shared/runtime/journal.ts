// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A small write-ahead journal for outputs that must write each input once: JSON lines appended
 * and synced before the output's own write, read back at start to finish or undo what a crash
 * interrupted. Compacted to its newest records when it grows: only inputs not yet acknowledged
 * can come again, and those are at most a window's worth.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export class Journal<T extends object> {
  readonly #file: string;
  readonly #max: number;
  #fd: number;
  /** Records in the file, oldest first. */
  readonly records: T[] = [];

  /** Opens (creating) the journal at `file`; keeps at most `max` records (compacting to half). */
  constructor(file: string, max = 20_000) {
    this.#file = file;
    this.#max = max;
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) {
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!line) continue;
        try {
          this.records.push(JSON.parse(line) as T);
        } catch {
          // A torn last line of a crash mid-append: that record was never relied on.
        }
      }
    }
    this.#fd = openSync(file, "a", 0o600);
  }

  /** Append and sync: when this returns, the records survive a crash. */
  append(recs: readonly T[]): void {
    if (!recs.length) return;
    const data = Buffer.from(recs.map((r) => JSON.stringify(r) + "\n").join(""), "utf8");
    let off = 0;
    while (off < data.length) off += writeSync(this.#fd, data, off, data.length - off);
    fdatasyncSync(this.#fd);
    this.records.push(...recs);
    if (this.records.length > this.#max) this.#compact();
  }

  #compact(): void {
    this.records.splice(0, this.records.length - Math.floor(this.#max / 2));
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      const data = Buffer.from(this.records.map((r) => JSON.stringify(r) + "\n").join(""), "utf8");
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
    const dfd = openSync(dirname(this.#file), "r");
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
    closeSync(this.#fd);
    this.#fd = openSync(this.#file, "a", 0o600);
  }

  close(): void {
    try { closeSync(this.#fd); } catch { /* closed already */ }
  }
}
