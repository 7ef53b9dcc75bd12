// SPDX-License-Identifier: AGPL-3.0-only
/**
 * An output bot as an `intelmq-bot` process on a nats-server of its own: `count` events are
 * published into its queue (`perEnvelope` to a message), `read()` tells what reached the
 * destination so far, `disturb` may cut the destination while the events flow. The result counts
 * each event's appearances at the destination, by its source.fqdn (e<n>.example.org).
 */
import assert from "node:assert/strict";
import { encodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer } from "./nats-server.js";
import { TestPipeline, sleep, waitFor } from "./pipeline.js";

export const BOT_ID = "e2e-output";

export interface OutputRun {
  module: string;
  params: Record<string, unknown>;
  count?: number;
  perEnvelope?: number;
  /** Every payload the destination holds or received so far (JSON texts of events). */
  read(): Promise<string[]> | string[];
  /** Disturb the destination while events flow; `seen()` is how many arrived so far; `bot` kills and restarts the output's process. */
  disturb?(seen: () => Promise<number>, bot: { kill(): Promise<void>; start(): void }): Promise<void>;
  /** Wait for every event (default); false: wait for the queue to drain only (UDP). */
  expectAll?: boolean;
  timeoutMs?: number;
  /** Pause between two published envelopes (ms, default none). */
  paceMs?: number;
}

export interface OutputResult { count: number; distinct: number; duplicated: number; missing: number; total: number; log: string }

export function eventOf(i: number): Record<string, unknown> {
  return { __type: "Event", "source.fqdn": `e${i}.example.org`, "classification.type": "scanner", "feed.name": "E2E", "time.observation": "2024-09-16T10:00:00+00:00" };
}

function tally(payloads: string[], count: number): Omit<OutputResult, "log"> {
  const seen = new Map<string, number>();
  for (const p of payloads) {
    const d = JSON.parse(p) as Record<string, unknown>;
    const fqdn = String(d["source.fqdn"] ?? (d.source as Record<string, unknown> | undefined)?.fqdn);
    seen.set(fqdn, (seen.get(fqdn) ?? 0) + 1);
  }
  let missing = 0;
  for (let i = 0; i < count; i++) if (!seen.has(`e${i}.example.org`)) missing++;
  return { count, distinct: seen.size, duplicated: [...seen.values()].filter((n) => n > 1).length, missing, total: payloads.length };
}

export async function runOutput(o: OutputRun): Promise<OutputResult> {
  const count = o.count ?? 10_000, per = o.perEnvelope ?? 100;
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, {
    [BOT_ID]: { module: o.module, name: "E2E output", group: "Output", enabled: true, parameters: { ...o.params, error_max_retries: 1000, error_retry_delay: 1 } },
  }, { error_max_retries: 1000, error_retry_delay: 1 });
  try {
    p.start(BOT_ID);
    const b = await p.broker();
    const queue = `${BOT_ID}-queue`;
    await b.queues.ensure(queue);
    const publishing = (async () => {
      for (let i = 0; i < count; i += per) {
        const events = [];
        for (let j = i; j < Math.min(count, i + per); j++) events.push(eventOf(j));
        await b.queues.publish(queue, encodeEnvelope(events), { msgId: `e2e:${i}` });
        if (o.paceMs) await sleep(o.paceMs);
      }
    })();
    const seen = async () => (await o.read()).length;
    try {
      const control = { kill: () => p.kill(BOT_ID, "SIGKILL"), start: () => { p.start(BOT_ID); } };
      await Promise.all([publishing, o.disturb?.(seen, control)]);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${await seen()} arrived\n${p.log(BOT_ID).slice(-3000)}`, { cause: err });
    }
    const drained = async () => {
      const proc = p.procs.get(BOT_ID)!;
      if (proc.child.exitCode !== null) throw new Error(`the output exited (${proc.child.exitCode}):\n${p.log(BOT_ID).slice(-3000)}`);
      return (await b.queues.depth(queue)) === 0;
    };
    try {
      await waitFor(async () => (o.expectAll === false || (await seen()) >= count) && (await drained()), o.timeoutMs ?? 180_000, `${count} events at the destination`, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${await seen()} arrived, queue depth ${await b.queues.depth(queue)}\n${p.log(BOT_ID).slice(-3000)}`, { cause: err });
    }
    await sleep(1000); // anything late shows up now
    const result = { ...tally(await o.read(), count), log: p.log(BOT_ID) };
    assert.equal((await b.dumps.read(BOT_ID)).length, 0, "nothing dumped");
    return result;
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** Wait until `seen()` passes n (the output is working), then run `outage`. */
export async function after(seen: () => Promise<number>, n: number, outage: () => Promise<void>): Promise<void> {
  await waitFor(async () => (await seen()) >= n, 120_000, `${n} events before the outage`, 50);
  await outage();
}
