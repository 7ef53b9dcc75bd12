// SPDX-License-Identifier: AGPL-3.0-only
/** Log lines of the bots, the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { until } from "../testing.js";
import { conformance, next } from "./harness.js";

/** Lines are fire-and-forget and wait for the logs stream to be made: on a busy machine that takes seconds. */
const ARRIVE_MS = 15_000;

conformance("logs", (fx) => {
  test("log lines: the last max of one bot, oldest first, read from any connection", async () => {
    const w = await fx.broker();
    const r = await fx.broker();
    const a = `logbot-a-${process.pid}-${next()}`;
    const other = `logbot-b-${process.pid}-${next()}`;
    // the logs stream made sure of first: lines appended while it is being made were lost now and
    // then on a busy machine (best effort by design; what is asserted here is reading them back)
    await w.logs.read(a, 1);
    for (let i = 1; i <= 5; i++) w.logs.append(a, `{"level":"info","msg":"a${i}"}\n`);
    w.logs.append(other, `{"level":"info","msg":"b1"}`);
    await until(async () => (await r.logs.read(a, Infinity)).length === 5, ARRIVE_MS, "five lines of bot a");
    assert.deepEqual(await r.logs.read(a, Infinity), [1, 2, 3, 4, 5].map((i) => `{"level":"info","msg":"a${i}"}`), "trailing newline dropped");
    assert.deepEqual(await r.logs.read(a, 2), ['{"level":"info","msg":"a4"}', '{"level":"info","msg":"a5"}']);
    await until(async () => (await r.logs.read(other, 10)).length === 1, ARRIVE_MS, "the line of bot b");
    assert.deepEqual(await r.logs.read(other, 10), ['{"level":"info","msg":"b1"}']);
    assert.deepEqual(await r.logs.read(`nobody-${process.pid}`, 10), []);
    assert.deepEqual(await r.logs.read(a, 0), []);
  });

  test("appendLog never throws into the caller (bad bot id, huge line) and keeps working", async () => {
    const b = await fx.broker();
    const id = `logbot-c-${process.pid}-${next()}`;
    assert.doesNotThrow(() => b.logs.append("", "no bot"));
    assert.doesNotThrow(() => b.logs.append(id, "x".repeat(3 * 1024 * 1024)));
    b.logs.append(id, "after");
    await until(async () => (await b.logs.read(id, 10)).includes("after"), ARRIVE_MS, "the line after the huge one");
  });
});
