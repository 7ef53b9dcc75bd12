// SPDX-License-Identifier: AGPL-3.0-only
/** The messages a bot left in a queue of a MemoryBroker, taken out (acked) in order. */
import type { MemoryBroker } from "../../shared/broker/index.js";
import { decodeEnvelope } from "../../shared/message/index.js";

export async function takeQueued(broker: MemoryBroker, queue: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const depth = await broker.queues.depth(queue);
  if (depth === 0) return out;
  const sub = await broker.queues.consume(queue);
  const it = sub[Symbol.asyncIterator]();
  for (let i = 0; i < depth; i++) {
    const d = (await it.next()).value!;
    out.push(...decodeEnvelope(d.data).map((m) => m as Record<string, unknown>));
    await d.ack();
  }
  await sub.stop();
  return out;
}
