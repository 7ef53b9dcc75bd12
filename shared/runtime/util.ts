// SPDX-License-Identifier: AGPL-3.0-only
/** Small helpers of the runtime: interruptible sleep, a bounded set, IntelMQ-shaped tracebacks and JSON. */
import { ImqError, qualifiedIntelmqName } from "../errors/index.js";

/** Where the runtime's waits come from: real timers, or a test's own clock. */
export interface Clock {
  /** Call `fn` after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

const realClock: Clock = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** A wake-up signal: sleeps end early when it fires. Re-armed after each fire. */
export class Waker {
  #waiters = new Set<() => void>();
  constructor(readonly clock: Clock = realClock) {}
  /** End every sleep in progress. */
  wake(): void {
    const w = [...this.#waiters];
    this.#waiters.clear();
    for (const f of w) f();
  }
  /** Sleep `ms`; resolves true when the time passed, false when woken. */
  sleep(ms: number): Promise<boolean> {
    if (!(ms > 0)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (full: boolean): void => {
        cancel();
        this.#waiters.delete(onWake);
        resolve(full);
      };
      const onWake = (): void => done(false);
      const cancel = this.clock.after(ms, () => done(true));
      this.#waiters.add(onWake);
    });
  }
}

/** A set that forgets its oldest entries beyond `max` (insertion order). */
export class BoundedSet<T> {
  #set = new Set<T>();
  constructor(readonly max: number) {}
  add(v: T): void {
    this.#set.delete(v);
    this.#set.add(v);
    if (this.#set.size > this.max) {
      const first = this.#set.values().next();
      if (!first.done) this.#set.delete(first.value);
    }
  }
  has(v: T): boolean { return this.#set.has(v); }
  get size(): number { return this.#set.size; }
}

/** Keys remembered for a while: each is forgotten `ttlMs` after it was added (and beyond `max` entries, oldest first). */
export class RecentSet {
  readonly #at = new Map<string, number>();
  constructor(readonly ttlMs: number, readonly max: number) {}
  add(key: string, now = Date.now()): void {
    this.#at.delete(key);
    this.#at.set(key, now);
    this.#expire(now);
  }
  has(key: string, now = Date.now()): boolean {
    this.#expire(now);
    return this.#at.has(key);
  }
  #expire(now: number): void {
    // Insertion order is time order: the oldest entry is always the first.
    for (const [k, t] of this.#at) {
      if (this.#at.size <= this.max && now - t < this.ttlMs) break;
      this.#at.delete(k);
    }
  }
}

/**
 * The reason of a failure in one line, as IntelMQ's dumps end:
 * `intelmq.lib.exceptions.InvalidValue: invalid value ...` for IntelMQ's exceptions, Python's name
 * for the errors IntelMQ meets as Python's (`ValueError: ...`), the class name for others.
 */
export function exceptionLine(err: unknown): string {
  if (err instanceof ImqError) return `${qualifiedIntelmqName(err)}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `Error: ${String(err)}`;
}

/**
 * The traceback of a dump entry, as a list of lines each ending in a newline. By default one
 * line, the reason (see exceptionLine), which intelmqdump shows as it is. With `stack` (a bot at
 * logging_level DEBUG) the JavaScript frames come first, most recent first, and the reason stays
 * the last line, where IntelMQ's tools look for it.
 */
export function tracebackLines(err: unknown, opts: { stack?: boolean } = {}): string[] {
  const lines: string[] = [];
  if (opts.stack && err instanceof Error && typeof err.stack === "string") {
    const frames = err.stack.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("at "));
    if (frames.length) lines.push("Stack (most recent call first):\n", ...frames.map((f) => `  ${f}\n`));
  }
  lines.push(`${exceptionLine(err)}\n`);
  return lines;
}

/**
 * JSON text as Python's json.dumps() writes it by default (", " and ": " separators, non-ASCII escaped),
 * which is what IntelMQ base64-encodes into dumps of messages that failed on receive.
 */
export function pythonJsonDumps(value: unknown): string {
  const esc = (s: string): string =>
    JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const walk = (v: unknown): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "string") return esc(v);
    if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "Infinity" : v < 0 ? "-Infinity" : "NaN";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (Array.isArray(v)) return `[${v.map(walk).join(", ")}]`;
    if (typeof v === "object") {
      return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${esc(k)}: ${walk(x)}`).join(", ")}}`;
    }
    return esc(String(v));
  };
  return walk(value);
}

/** Python's str.splitlines() boundaries. */
export const LINE_SPLIT = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

/** Naive UTC ISO timestamp with microseconds, as Python's datetime.utcnow().isoformat(). */
export function utcTimestamp(d = new Date()): string {
  return d.toISOString().replace("Z", "000");
}

/** Seconds in words, as IntelMQ's seconds_to_human (e.g. "1h 2m 3s"). */
export function secondsToHuman(seconds: number): string {
  let s = Math.round(seconds);
  const parts: string[] = [];
  for (const [unit, n] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (s >= n) { parts.push(`${Math.floor(s / n)}${unit}`); s %= n; }
  }
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(" ");
}
