// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Poison messages end. A message that keeps coming back because its handling killed the process
 * (out of memory, a crash) or failed outside the bot's process() would otherwise be redelivered
 * for ever. Before a redelivered message is handled, its attempt is recorded in a KV bucket
 * (so the count survives the process); a completed message clears it, a graceful give-back
 * (stop, pause) takes the attempt back. Once error_max_deliveries attempts failed, the message
 * is dumped with the reason instead of being handled again. First deliveries cost nothing: only
 * redeliveries are looked up.
 */
import type { Logger } from "pino";
import type { Broker, Delivery, KvStore } from "../../broker/index.js";

const ATTEMPTS_BUCKET = "deliveries";
/** Records of attempts are kept a week at most. */
const ATTEMPTS_TTL_S = 7 * 86400;

export interface AttemptRecord {
  /** Failed deliveries so far, the one before the first record included. */
  failures: number;
  /** Why the last one failed, when known. */
  reason: string;
  /** What was stored before this attempt (restore() puts it back). */
  previous: string | null;
}

const CRASH = "the bot's process ended (killed, out of memory or crashed) while it handled this message";

function keyOf(d: Pick<Delivery, "queue" | "seq">): string {
  return `${d.queue.replace(/[^-_a-zA-Z0-9]/g, "_")}.${d.seq}`;
}

export class Attempts {
  #kv: Promise<KvStore> | null = null;

  constructor(private readonly broker: Broker, private log: Logger) {}

  setLogger(log: Logger): void { this.log = log; }

  #store(): Promise<KvStore> {
    if (!this.#kv) {
      const p = this.broker.kv.open(ATTEMPTS_BUCKET, ATTEMPTS_TTL_S, { maxBytes: this.broker.limits.deliveriesMaxBytes });
      this.#kv = p;
      p.catch(() => { if (this.#kv === p) this.#kv = null; });
    }
    return this.#kv;
  }

  /**
   * Before handling a redelivered message: how many of its deliveries failed, and why. The
   * delivery before this one evidently did not complete, so it counts unless a record says
   * otherwise. Records this attempt as failed until end() clears it.
   */
  async begin(d: Delivery): Promise<AttemptRecord> {
    const kv = await this.#store();
    const key = keyOf(d);
    const previous = await kv.get(key);
    const now: AttemptRecord = { failures: 1, reason: CRASH, ...parse(previous), previous };
    await kv.put(key, JSON.stringify({ failures: now.failures + 1, reason: CRASH }));
    return now;
  }

  /** A failure outside process() that gives the message back: recorded with its reason. */
  async fail(d: Delivery, reason: string, before: AttemptRecord | null): Promise<void> {
    const kv = await this.#store();
    await kv.put(keyOf(d), JSON.stringify({ failures: (before?.failures ?? 0) + 1, reason }));
  }

  /** Given back gracefully (stop, pause): this attempt did not fail. */
  async restore(d: Delivery, before: AttemptRecord): Promise<void> {
    try {
      const kv = await this.#store();
      if (before.previous === null) await kv.delete(keyOf(d));
      else await kv.put(keyOf(d), before.previous);
    } catch (err) {
      this.log.debug({ err }, "could not take back a delivery attempt");
    }
  }

  /** Handled (acknowledged or dumped): forget it. */
  async end(d: Delivery): Promise<void> {
    try {
      const kv = await this.#store();
      await kv.delete(keyOf(d));
    } catch (err) {
      // Expires with the bucket's TTL; only costs a lookup if the sequence is ever delivered again.
      this.log.debug({ err }, "could not clear a delivery attempt");
    }
  }
}

function parse(v: string | null): Pick<AttemptRecord, "failures" | "reason"> | null {
  if (!v) return null;
  try {
    const o = JSON.parse(v) as Partial<AttemptRecord>;
    return typeof o.failures === "number" ? { failures: o.failures, reason: String(o.reason ?? CRASH) } : null;
  } catch {
    return null;
  }
}
