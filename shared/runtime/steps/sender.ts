// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Publishing and storing dumps until the broker confirms them. A broker outage is waited out
 * with backoff, never a reason to drop anything; a bot that is stopping gives up the wait (the
 * input stays unacknowledged and comes again), so SIGTERM is never held up by an outage.
 */
import type { Logger } from "pino";
import type { Broker, DumpEntry } from "../../broker/index.js";
import { ErrorCode, hasCode } from "../../errors/index.js";
import type { Waker } from "../util.js";
import { HARMONIZED_HEADER } from "../../message/index.js";

const HARMONIZED = { [HARMONIZED_HEADER]: "1" };

/** The wait was given up: the bot is stopping or the connection was closed. */
export class Halted extends Error {
  constructor(what: string) {
    super(`${what}: given up, the bot is stopping`);
    this.name = "Halted";
  }
}

export class Sender {
  constructor(
    private readonly broker: Broker,
    private log: Logger,
    private readonly halted: () => boolean,
    private readonly waker: Waker,
  ) {}

  setLogger(log: Logger): void { this.log = log; }

  /**
   * Publish an envelope our runtime encoded from valid messages (HARMONIZED_HEADER) and await the
   * PubAck. `keepAlive` is called while waiting (it extends the input's ack deadline).
   */
  publish(queue: string, data: Uint8Array, msgId: string, keepAlive?: () => void): Promise<void> {
    return this.#untilDone(`publish to ${JSON.stringify(queue)}`, () => this.broker.queues.publish(queue, data, { msgId, headers: HARMONIZED }), keepAlive);
  }

  dump(entry: DumpEntry, keepAlive?: () => void): Promise<void> {
    return this.#untilDone("store a dump", () => this.broker.dumps.store(entry), keepAlive);
  }

  async #untilDone(what: string, op: () => Promise<void>, keepAlive?: () => void): Promise<void> {
    let backoff = 100;
    for (let n = 0; ; n++) {
      try {
        await op();
        return;
      } catch (err) {
        // A stopping bot still finishes what goes through; it only gives up waiting for an outage.
        if (this.broker.state === "closed" || this.halted()) throw new Halted(what);
        if (n % 10 === 0) {
          if (hasCode(err, ErrorCode.BrokerUnavailable)) this.log.warn({ err }, `Broker unavailable; will ${what} again.`);
          else this.log.error({ err }, `Could not ${what}; retrying.`);
        }
      }
      keepAlive?.();
      await this.waker.sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
  }
}
