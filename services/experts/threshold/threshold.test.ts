// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, "classification.type": "scanner", ...fields });
const same = (n: number, ip = "192.0.2.1") => Array.from({ length: n }, (_, i) => ev({ "source.ip": ip, "destination.port": i + 1 }));
const byIp = { threshold: 3, filter_type: "whitelist", filter_keys: "source.ip" };

test("threshold: only the event that reaches the count goes on, with extra.count and add_keys", async () => {
  const out = await runBot(bot, { params: byIp, input: same(5) });
  assert.equal(out.output._default!.length, 1);
  const got = out.output._default![0]!;
  assert.equal(got["destination.port"], 3, "the third similar event");
  assert.equal(got["extra.count"], 3);
  assert.equal(got.comment, "Threshold reached");
});

test("threshold: counts are per hash; other keys and add_keys as configured", async () => {
  const input = [...same(2, "192.0.2.1"), ...same(2, "192.0.2.2"), ev({ "source.ip": "192.0.2.1" })];
  const out = await runBot(bot, { params: { ...byIp, add_keys: { "extra.note": "noisy" } }, input });
  assert.deepEqual(out.output._default!.map((e) => [e["source.ip"], e["extra.note"], e.comment]), [["192.0.2.1", "noisy", undefined]]);
});

test("threshold: blacklist hashing (default) sees differing events as different", async () => {
  const out = await runBot(bot, { params: { threshold: 2 }, input: same(4) });
  assert.equal(out.output._default!.length, 0, "destination.port differs: no two events are similar");
});

test("threshold: bypass forwards everything", async () => {
  const out = await runBot(bot, { params: { ...byIp, bypass: true }, input: same(4) });
  assert.equal(out.output._default!.length, 4);
});

test("threshold: a threshold or TTL below 1 stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { threshold: 0 }, input: [] }), (e: Error) => /threshold/.test(e.message));
  await assert.rejects(runBot(bot, { params: { redis_cache_ttl: -5 }, input: [] }), (e: Error) => /redis_cache_ttl/.test(e.message));
});
