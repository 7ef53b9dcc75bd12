// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

test("blackhole: every event is taken and nothing comes out", async () => {
  const input = [1, 2, 3].map((i) => ({ __type: "Event", "source.ip": `192.0.2.${i}` }));
  const out = await runBot(bot, { params: {}, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(Object.values(out.output).flat(), []);
});
