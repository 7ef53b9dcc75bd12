// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The consuming half of the loop: take deliveries from the source queue, start a job per
 * delivery within the window, and take each job to its end (acked, given back or left).
 */
import { crc32 } from "node:zlib";
import type { Logger } from "pino";
import type { Harmonization } from "../harmonization/index.js";
import type { Broker, Delivery, DumpEntry, Subscription } from "../broker/index.js";
import type { BotKind, RuntimeParams } from "./types.js";
import { BoundedSet, RecentSet, secondsToHuman, tracebackLines, type Waker } from "./util.js";
import type { Stats } from "./steps/stats.js";
import { Halted, type Sender } from "./steps/sender.js";
import { Dumper } from "./steps/dumps.js";
import { Outbox, type OutputInfo } from "./steps/outbox.js";
import { decodeInput, inputBatches, type DecodeEnv } from "./steps/decode.js";
import type { AttemptRecord, Attempts } from "./steps/attempts.js";
import type { RetryEnv } from "./steps/retry.js";
import type { InputDriver, InputJob } from "./drivers/driver.js";

/** An input envelope is done with: acked, left unacked (error_procedure stop, broker closed) or given back. */
export interface SettledInfo { seq: number; outcome: "acked" | "left" | "nak" }

const COMPLETED_MEMORY = 100_000;
const MSG_ID_HEADER = "Nats-Msg-Id";
/** The identity a stray put back into its queue keeps (see settleStrays()). */
const IDENTITY_HEADER = "Intelmq-Identity";
/**
 * Input bytes worked on at once, at most (one input is always taken, however large): an envelope
 * of 1,000 events (~440 KiB) takes several times its size while it is decoded and worked on; two
 * such at a time keep a bot busy.
 */
const INPUT_BYTES = 512 * 1024;
/** Deliveries the client pulls ahead of the loop. */
const PREFETCH = 1;
/** When strays are looked for after a reconnect. */
const STRAYS_AFTER_MS = [2_000, 15_000, 45_000];
/** working() interval for held deliveries, well inside JetStream's default ack_wait of 30 s. */
const KEEPALIVE_MS = 10_000;

/** What the consumer needs of its bot. */
export interface ConsumerHost {
  readonly broker: Broker;
  readonly waker: Waker;
  readonly window: number;
  readonly stats: Stats;
  readonly sender: Sender;
  readonly dumper: Dumper;
  readonly attempts: Attempts;
  readonly kind: BotKind;
  log(): Logger;
  runtime(): RuntimeParams;
  harmonization(): Harmonization;
  driver(): InputDriver;
  /** The bot is stopping, pausing or reloading: take nothing new, give up waits. */
  halted(): boolean;
  /** Stop consuming and let the bot end with `code` (error_procedure stop, a scheduled run's end). */
  end(code: number): void;
  settled(s: SettledInfo): void;
  tap(): ((o: OutputInfo) => void) | null;
  dumped(e: DumpEntry): void;
}

export class Consumer {
  #sub: Subscription | null = null;
  /** Jobs in flight, and how many of them are working (not waiting for a retry). */
  readonly #jobs = new Set<Promise<void>>();
  #active = 0;
  #activeBytes = 0;
  #slotFreed: (() => void) | null = null;
  /** Deliveries taken and not settled, by sequence: kept alive with working() while slow work goes on. */
  readonly #held = new Map<number, Delivery>();
  /** Later deliveries of a message still in progress (the server's ack deadline passed meanwhile, an outage). */
  readonly #repeats = new Map<number, Delivery[]>();
  /** Inputs (by their key: queue, sequence and content) whose outputs were confirmed. */
  readonly #completed = new BoundedSet<string>(COMPLETED_MEMORY);
  /**
   * Message ids of inputs completed within the duplicate window. A nats-server that restarts
   * forgets the ids of messages already acked, so a sender's retry after an outage can store a
   * second copy under the same id; this bot then recognises it and only acknowledges it.
   */
  readonly #completedIds: RecentSet;

  constructor(private readonly h: ConsumerHost, duplicateWindowMs: number) {
    this.#completedIds = new RecentSet(duplicateWindowMs, COMPLETED_MEMORY);
  }

  /** Stop pulling (what was pulled and not started goes back). */
  async stopPulling(): Promise<void> {
    const sub = this.#sub;
    if (sub) await sub.stop().catch(() => undefined);
  }

  /** Resolves once every job in flight is settled. */
  async idle(): Promise<void> {
    await Promise.all(this.#jobs);
  }

  /** Consume until halted. */
  async run(): Promise<void> {
    const queue = this.h.runtime().source_queue;
    // Slow bots (HTTP lookups, retries with error_retry_delay) must not outlive the ack deadline.
    const keepalive = setInterval(() => { for (const d of this.#held.values()) d.working(); }, KEEPALIVE_MS);
    keepalive.unref();
    // Back from an outage: look for strays once the server is up, and once its consumers settled.
    let down = false;
    const timers = new Set<NodeJS.Timeout>();
    const off = this.h.broker.onState((state) => {
      if (state !== "connected") { down = true; return; }
      if (!down) return;
      down = false;
      for (const ms of STRAYS_AFTER_MS) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (this.h.broker.state === "connected") this.settleStrays(queue).catch((err: unknown) => this.h.log().debug({ err }, "looking for strays failed"));
        }, ms);
        t.unref();
        timers.add(t);
      }
    });
    try {
      await this.#consumeUntilHalted(queue);
    } finally {
      clearInterval(keepalive);
      off();
      for (const t of timers) clearTimeout(t);
    }
  }

  async #consumeUntilHalted(queue: string): Promise<void> {
    let backoff = 100;
    while (!this.h.halted()) {
      let sub: Subscription;
      try {
        sub = await this.h.broker.queues.consume(queue, { maxInFlight: Math.min(this.h.window, PREFETCH), streamRaw: true });
      } catch (err) {
        if (this.h.broker.state === "closed") return;
        this.h.log().warn({ err }, "Could not consume from the source queue; retrying.");
        await this.h.waker.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      if (this.h.halted()) { await sub.stop(); break; }
      this.#sub = sub;
      this.h.log().info("Connected to source queue.");
      try {
        for await (const d of sub) {
          if (this.h.halted()) {
            this.#settle(d, "nak");
            continue;
          }
          backoff = 100;
          await this.#take(d, sub);
        }
      } catch (err) {
        if (this.h.broker.state === "closed") break;
        this.h.log().warn({ err }, "Consuming from the source queue failed; reconnecting.");
        await this.h.waker.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        this.#sub = null;
        await Promise.all(this.#jobs);
      }
    }
  }

  /** Start the job of one delivery, keeping the window; alone when it may be poison. */
  async #take(d: Delivery, sub: Subscription): Promise<void> {
    const rt = this.h.runtime();
    const inProgress = this.#held.get(d.seq);
    if (inProgress && inProgress !== d) {
      // Still being handled: its outcome settles this delivery too.
      const l = this.#repeats.get(d.seq);
      if (l) l.push(d); else this.#repeats.set(d.seq, [d]);
      return;
    }
    // A redelivered message may be what killed the last process: handled alone, so that only
    // its own count of failed deliveries grows.
    const suspect = d.deliveryCount > 1 && !rt.testing;
    if (suspect) await Promise.all(this.#jobs);
    this.#held.set(d.seq, d);
    this.#active++;
    const weight = d.data.byteLength;
    this.#activeBytes += weight;
    const job = this.#job(d).finally(() => {
      this.#jobs.delete(job);
      this.#held.delete(d.seq);
      this.#active--;
      this.#activeBytes -= weight;
      this.#freeSlot();
    });
    this.#jobs.add(job);
    if (suspect || rt.run_mode === "scheduled" || (rt.rate_limit > 0 && !rt.testing)) await job;
    if (rt.run_mode === "scheduled") {
      this.h.log().info("Shutting down scheduled bot.");
      this.h.end(0);
      void sub.stop();
      return;
    }
    if (rt.rate_limit > 0 && !rt.testing && !this.h.halted()) {
      this.h.log().info(`Idling for ${rt.rate_limit.toFixed(1)}s (${secondsToHuman(rt.rate_limit)}) now.`);
      await this.h.waker.sleep(rt.rate_limit * 1000);
    }
    // At most `window` jobs working, and INPUT_BYTES of input at a time (large envelopes and
    // reports take memory in proportion); those waiting for a retry make room, up to four windows held.
    while (this.#active >= this.h.window || this.#jobs.size >= this.h.window * 4 || (this.#active > 0 && this.#activeBytes >= INPUT_BYTES)) {
      await new Promise<void>((r) => { this.#slotFreed = r; });
    }
  }

  #freeSlot(): void {
    const f = this.#slotFreed;
    this.#slotFreed = null;
    f?.();
  }

  #settle(d: Delivery, outcome: SettledInfo["outcome"], nakDelayMs = 0): void {
    if (outcome === "nak") {
      d.nak(nakDelayMs);
      for (const r of this.#repeats.get(d.seq) ?? []) r.nak(nakDelayMs);
      this.#repeats.delete(d.seq);
    }
    this.h.settled({ seq: d.seq, outcome });
  }

  /**
   * What identifies an input: its place (queue and stream sequence) and its content (length and
   * CRC-32), the same on every redelivery; a nats-server that crashed can hand out a sequence again
   * for another message, which then differs in content. A stray put back into its queue keeps the
   * identity it had (IDENTITY_HEADER), so that it is recognised and its outputs get the same ids.
   */
  static identity(d: Pick<Delivery, "queue" | "seq" | "data" | "headers" | "raw">): string {
    const kept = d.headers[IDENTITY_HEADER];
    if (kept !== undefined) return kept;
    // The content itself, not its message id: a queue made anew (npm start --fresh) numbers from 1
    // again, and the same feed collected again has the same ids but not the same events
    // (time.observation), which an output's journal must not take for ones it wrote. zlib's crc32
    // costs well under a microsecond per event.
    // A streamed report's data is its head only: its raw's size stands for the rest.
    const rest = d.raw ? `+${d.raw.size.toString(36)}` : "";
    return `${d.queue}:${d.seq}:${d.data.byteLength.toString(36)}${rest}.${crc32(d.data).toString(36)}`;
  }

  /**
   * After nats-server comes back from a crash, the queue can hold messages its consumer counts as
   * acknowledged: mostly ones this bot acknowledged whose removal the server lost (removed here),
   * now and then one the server lost track of although nobody processed it (put back into the
   * queue, with its identity, so that it is delivered again: nothing is lost).
   */
  async settleStrays(queue: string): Promise<void> {
    const q = this.h.broker.queues;
    for (const m of await q.strays(queue)) {
      if (this.#held.has(m.seq)) continue; // being worked on: its ack settles it
      const key = Consumer.identity({ queue, ...m });
      const msgId = m.headers[MSG_ID_HEADER];
      if (this.#completed.has(key) || (msgId !== undefined && this.#completedIds.has(msgId))) {
        await q.remove(queue, m.seq);
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers)) if (!k.startsWith("Nats-")) headers[k] = v;
      headers[IDENTITY_HEADER] = key;
      await q.publish(queue, m.data, { msgId: `stray:${key}`, headers });
      await q.remove(queue, m.seq);
      this.h.log().warn({ queue, seq: m.seq, identity: key }, "nats-server lost track of a message after a crash; it is put back into its queue");
    }
  }

  /** Handle one delivery to its end: acked, given back or left. Never throws. */
  async #job(d: Delivery): Promise<void> {
    const rt = this.h.runtime();
    let record: AttemptRecord | null = null;
    let outbox: Outbox | null = null;
    const key = Consumer.identity(d);
    try {
      const msgId = d.headers[MSG_ID_HEADER];
      if ((msgId !== undefined && this.#completedIds.has(msgId)) || this.#completed.has(key)) {
        // Its outputs were confirmed before; only the ack was lost (or a restarted server stored a
        // sender's retry again). Not only when redelivered: after a restart nats-server 2.9 may
        // hand back an unacked message as delivered once.
        this.h.log().debug(`Message ${d.seq} was completed before; acknowledging it only.`);
        await this.#ack(d, key, null, null);
        return;
      }
      if (d.deliveryCount > 1 && !rt.testing) {
        record = await this.h.attempts.begin(d);
        if (record.failures >= rt.error_max_deliveries) {
          outbox = this.#outbox(d, key);
          this.#poison(d, outbox, record.reason, record.failures);
          await outbox.finish();
          await this.#ack(d, key, outbox, record);
          return;
        }
      }
      outbox = this.#outbox(d, key);
      const job = this.#inputJob(d, outbox, key);
      const step = await this.h.driver().handle(job, await inputBatches(d, this.#decodeEnv(outbox), this.h.kind === "parser"));
      if (step === "stop") {
        // error_procedure stop: leave the envelope unacked, stop consuming, exit 1.
        if (record) await this.h.attempts.restore(d, record);
        this.h.end(1);
        void this.#sub?.stop();
        this.#settle(d, "left");
        return;
      }
      if (step === "aborted") {
        if (record) await this.h.attempts.restore(d, record);
        this.#settle(d, "nak");
        return;
      }
      await outbox.finish();
      await this.#ack(d, key, outbox, record);
    } catch (err) {
      if (err instanceof Halted || this.h.broker.state === "closed") {
        this.h.log().warn({ err }, "The broker closed or the bot is stopping before the outputs were confirmed; the message stays in its queue.");
        if (record) await this.h.attempts.restore(d, record).catch(() => undefined);
        this.#settle(d, "left");
        return;
      }
      // A fault of the runtime or the broker, not of the message: give it back. Counted as a
      // failed delivery, so a message that always fails this way ends in the dumps.
      this.h.log().error({ err }, "Unexpected failure while handling a message; it will be redelivered.");
      if (!rt.testing) await this.h.attempts.fail(d, tracebackLines(err).join(""), record).catch(() => undefined);
      this.#settle(d, "nak", rt.testing ? 0 : 1000);
    }
  }

  #decodeEnv(outbox: Outbox): DecodeEnv {
    return {
      defaultType: this.h.kind === "parser" ? "Report" : "Event", harmonization: this.h.harmonization(), log: this.h.log(), dumper: this.h.dumper, stats: this.h.stats,
      dump: (e) => outbox.addDump(e),
    };
  }

  /** Output ids derive from the input's place and content: a redelivery repeats them, another message never does. */
  #outbox(d: Delivery, key: string): Outbox {
    const rt = this.h.runtime();
    return new Outbox({
      dest: rt.destination_queues, batchSize: rt.batch_size, loadBalance: rt.load_balance, idPrefix: key, seq: d.seq,
      sender: this.h.sender, stats: this.h.stats, keepAlive: () => d.working(),
      tap: this.h.tap(),
    });
  }

  #inputJob(d: Delivery, outbox: Outbox, key: string): InputJob {
    const retry: RetryEnv = {
      runtime: this.h.runtime(), log: this.h.log(), stats: this.h.stats, waker: this.h.waker,
      halted: () => this.h.halted(),
      keepAlive: () => d.working(),
      waiting: (on) => {
        this.#active += on ? -1 : 1;
        if (on) this.#freeSlot();
      },
    };
    return {
      outbox, retry, redelivered: d.deliveryCount > 1,
      origin: (i) => `${key}:${i}`,
      input: { key, queue: d.queue, seq: d.seq },
    };
  }

  /** A message that failed error_max_deliveries times: dumped with the reason, each of its messages on its own. */
  #poison(d: Delivery, outbox: Outbox, reason: string, failures: number): void {
    const why = `${failures} deliveries of this message failed; the last: ${reason}`;
    this.h.log().error(`Giving up on message ${d.seq} of ${d.queue}: ${why}.`);
    this.h.stats.failure();
    for (const batch of decodeInput(d, this.#decodeEnv(outbox)).batches) {
      for (const { msg } of batch) outbox.addDump(this.h.dumper.give([`${why}\n`], Dumper.text(msg), false));
    }
  }

  async #ack(d: Delivery, key: string, outbox: Outbox | null, record: AttemptRecord | null): Promise<void> {
    this.#completed.add(key);
    const msgId = d.headers[MSG_ID_HEADER];
    if (msgId !== undefined) this.#completedIds.add(msgId);
    outbox?.report();
    for (const e of outbox?.dumps ?? []) this.h.dumped(e);
    try {
      await d.ack();
      if (d.published !== undefined) this.h.stats.latency(Math.max(0, Date.now() - d.published));
      this.h.settled({ seq: d.seq, outcome: "acked" });
    } catch (err) {
      this.h.log().warn({ err }, "Could not acknowledge a message; when it is redelivered it is only acknowledged.");
      this.h.settled({ seq: d.seq, outcome: "left" });
    }
    for (const r of this.#repeats.get(d.seq) ?? []) await r.ack().catch(() => undefined);
    this.#repeats.delete(d.seq);
    if (record) await this.h.attempts.end(d);
  }
}
