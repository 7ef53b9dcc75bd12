// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Recognising redeliveries of messages whose report was queued already. A message bus hands out
 * again a message whose acknowledgement was lost with a broken connection; without this its report
 * would be queued twice. The keys of queued messages are remembered in a KV bucket (so another
 * instance or a restarted bot knows them too) and, while their report is in flight, in memory.
 */
import { errorMessage, type BotContext } from "../../../shared/sdk/index.js";

type KvCache = Awaited<ReturnType<BotContext["cache"]>>;

export class RedeliveryGuard {
  /** Messages pushed and not yet settled, by key: resolves true once queued. */
  readonly #inflight = new Map<string, Promise<boolean>>();

  constructor(private readonly kv: KvCache, private readonly ctx: BotContext) {}

  /** For a redelivered message: was its report queued before (waits for one still in flight)? */
  async queuedBefore(key: string): Promise<boolean> {
    const earlier = this.#inflight.get(key);
    if (earlier) return await earlier;
    try {
      return (await this.kv.get(key)) !== null;
    } catch (err) {
      this.ctx.log.warn(`Could not look up a redelivered message: ${errorMessage(err)}`);
      return false;
    }
  }

  /**
   * A message is pushed: call queued() once its report is stored (resolves once the key is
   * remembered; acknowledge the message then), or failed().
   */
  track(key: string): { queued(): Promise<void>; failed(): void } {
    let done!: (queued: boolean) => void;
    const p = new Promise<boolean>((r) => { done = r; });
    this.#inflight.set(key, p);
    const settle = (ok: boolean) => {
      if (this.#inflight.get(key) === p) this.#inflight.delete(key);
      done(ok);
    };
    return {
      queued: async () => {
        try {
          await this.kv.put(key, "1");
        } catch (err) {
          this.ctx.log.warn(`Could not remember a queued message: ${errorMessage(err)}`);
        }
        settle(true);
      },
      failed: () => settle(false),
    };
  }
}
