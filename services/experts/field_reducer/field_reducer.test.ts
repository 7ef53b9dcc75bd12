// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const input = [ev({ "source.ip": "192.0.2.1", "feed.name": "Feed", "classification.type": "scanner" })];

test("field_reducer: whitelist keeps only the keys", async () => {
  const out = await runBot(bot, { params: { type: "whitelist", keys: "source.ip, time.observation" }, input });
  assert.deepEqual(out.output._default![0], ev({ "source.ip": "192.0.2.1" }));
});

test("field_reducer: blacklist removes the keys (a list works too)", async () => {
  const out = await runBot(bot, { params: { type: "blacklist", keys: ["feed.name", "extra.absent"] }, input });
  assert.deepEqual(out.output._default![0], ev({ "source.ip": "192.0.2.1", "classification.type": "scanner" }));
});

test("field_reducer: an unknown type stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { type: "greylist", keys: "a" }, input: [] }), (e: Error) => /type/.test(e.message));
});
