// SPDX-License-Identifier: AGPL-3.0-only
/** Experts through the runtime: processBatch and its fallback to process(), what goes out and where. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { encodeChunk, encodeEnvelope, joinChunks, type Event } from "../message/index.js";
import { defineBot } from "./index.js";
import { onMemory, ev, nextSettled, drain } from "./runner-fixtures.js";

test("processBatch: a batch at once, emits in input order and on their paths; when it throws, the batch goes through process() one by one with its retries", async () => {
  const calls: string[] = [];
  let failBatches = 0;
  const def = defineBot({
    kind: "expert", name: "batched", intelmq: "test.batched", description: "", params: z.object({}),
    create: () => ({
      process(e: Event, meta: { origin: string }) {
        calls.push(`one ${meta.origin.split(":").pop()}`);
        if (e.get("feed.code") === "flaky" && calls.filter((c) => c === "one 1").length === 1) throw new Error("flaky once");
        return e;
      },
      async processBatch(events: readonly Event[], metas: readonly { origin: string }[]) {
        calls.push(`batch ${metas.map((m) => m.origin.split(":").pop()).join(",")}`);
        if (failBatches > 0) { failBatches--; throw new Error("batch failed"); }
        return events.map((e) => (e.get("source.port") === 2 ? null : e.get("source.port") === 3 ? { path: "other", msg: e } : e));
      },
    }),
  });
  await onMemory(async (broker, start) => {
    const h = await start({ def, botId: "batched", params: { destination_queues: { _default: ["out"], other: ["other-out"] }, error_max_retries: 1 } });
    const input = [1, 2, 3, 4].map((i) => ev({ "source.port": i }));
    let settled = nextSettled(h);
    await broker.queues.publish("batched-queue", encodeEnvelope(input));
    assert.equal((await settled).outcome, "acked");
    assert.deepEqual(calls, ["batch 0,1,2,3"], "process() was not called");
    assert.deepEqual((await drain(broker, "out")).map((m) => m["source.port"]), [1, 4]);
    assert.deepEqual((await drain(broker, "other-out")).map((m) => m["source.port"]), [3]);
    calls.length = 0;
    failBatches = 1;
    settled = nextSettled(h);
    await broker.queues.publish("batched-queue", encodeEnvelope([ev({ "source.port": 5 }), ev({ "source.port": 6, "feed.code": "flaky" })]));
    assert.equal((await settled).outcome, "acked");
    assert.deepEqual(calls, ["batch 0,1", "one 0", "one 1", "one 1"], "one by one after the failed batch, the flaky event retried");
    assert.deepEqual((await drain(broker, "out")).map((m) => m["source.port"]), [5, 6]);
    assert.equal(h.stats().success, 6);
  });
});

test("processBatch over chunks: one at a time, the next decoded when the one before answered; outputs keep input order, a failed chunk goes one by one", async () => {
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  const def = defineBot({
    kind: "expert", name: "slowbatch", intelmq: "test.slowbatch", description: "", params: z.object({}),
    create: () => ({
      process: (e: Event) => e,
      async processBatch(events: readonly Event[]) {
        const n = ++calls;
        inFlight++;
        most = Math.max(most, inFlight);
        // the first chunk answers last
        await new Promise((r) => setTimeout(r, n === 1 ? 60 : 5));
        inFlight--;
        if (n === 2) throw new Error("second chunk fails");
        return events;
      },
    }),
  });
  await onMemory(async (broker, start) => {
    const h = await start({ def, botId: "slowbatch", params: { destination_queues: ["out"] } });
    const many = Array.from({ length: 250 }, (_, i) => ev({ "source.port": i + 1 }));
    const settled = nextSettled(h);
    await broker.queues.publish("slowbatch-queue", joinChunks([encodeChunk(many.slice(0, 100)), encodeChunk(many.slice(100, 200)), encodeChunk(many.slice(200))]));
    assert.equal((await settled).outcome, "acked");
    assert.equal(calls, 3, "chunks of 100, 100 and 50");
    assert.equal(most, 1, "one chunk waits at a time");
    assert.deepEqual((await drain(broker, "out")).map((m) => m["source.port"]), many.map((_, i) => i + 1));
    assert.equal(h.stats().success, 250);
  });
});
