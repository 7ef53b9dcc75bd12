// SPDX-License-Identifier: AGPL-3.0-only
/** Helpers of the broker tests: take deliveries with a deadline, poll for a condition. */
import type { Delivery } from "./types.js";
import { setTimeout as sleep } from "node:timers/promises";

// A next() still pending after a timeout: the following take() continues with it.
const dangling = new WeakMap<AsyncIterator<Delivery>, Promise<IteratorResult<Delivery>>>();

/** The next n deliveries of an iterator, failing after ms. */
export async function take(it: AsyncIterator<Delivery>, n: number, ms = 10000): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${out.length} of ${n} deliveries`);
    let timer: NodeJS.Timeout | undefined;
    const next = dangling.get(it) ?? it.next();
    dangling.delete(it);
    const r = await Promise.race([
      next,
      new Promise<"timeout">((res) => { timer = setTimeout(() => res("timeout"), left); }),
    ]);
    clearTimeout(timer);
    if (r === "timeout") {
      dangling.set(it, next);
      throw new Error(`timed out after ${out.length} of ${n} deliveries`);
    }
    if (r.done) throw new Error(`iteration ended after ${out.length} of ${n} deliveries`);
    out.push(r.value);
  }
  return out;
}

/** Poll until fn() is true. */
export async function until(fn: () => Promise<boolean> | boolean, ms = 10000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

