// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../logger.js";
import { LATENCY_BOUNDS_MS, Stats, quantile } from "./stats.js";

test("latency histogram: each value in the first bucket whose bound holds it; quantiles by bucket", () => {
  const s = new Stats(createLogger({ level: "CRITICAL" }), { count: 500, seconds: 900 });
  for (const ms of [0, 1, 3, 3, 3, 40, 40, 40, 40, 400_000]) s.latency(ms);
  const h = s.snapshot().latency_ms!;
  assert.equal(h.count, 10);
  assert.equal(h.sum, 400_170);
  assert.deepEqual(h.le, LATENCY_BOUNDS_MS);
  assert.equal(h.counts[0], 2, "0 and 1 are <= 1");
  assert.equal(h.counts[2], 3, "3 is <= 5");
  assert.equal(h.counts[5], 4, "40 is <= 50");
  assert.equal(h.counts[LATENCY_BOUNDS_MS.length], 1, "above every bound");
  assert.equal(quantile(h, 0.5), 5);
  assert.equal(quantile(h, 0.9), 50);
  assert.equal(quantile(h, 0.99), Infinity);
});

test("a snapshot is a copy: later values do not change it", () => {
  const s = new Stats(createLogger({ level: "CRITICAL" }), { count: 500, seconds: 900 });
  s.latency(7);
  const before = s.snapshot().latency_ms!;
  s.latency(7);
  assert.equal(before.count, 1);
  assert.equal(before.counts[3], 1);
  assert.equal(s.snapshot().latency_ms!.counts[3], 2);
});
