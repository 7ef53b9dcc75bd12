// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

test("touch: each event sets the file's times to now", async () => {
  const file = join(tempDir("touch-"), "heartbeat");
  writeFileSync(file, "");
  const old = new Date("2020-01-01T00:00:00Z");
  utimesSync(file, old, old);
  const before = Date.now();
  const out = await runBot(bot, { params: { path: file }, input: [{ __type: "Event", "source.ip": "192.0.2.1" }] });
  assert.equal(out.dumped, 0);
  assert.ok(statSync(file).mtimeMs >= before - 1000, "modification time moved to now");
});

test("touch: a missing file fails the event (dumped), not the bot", async () => {
  const file = join(tempDir("touch-"), "missing");
  const out = await runBot(bot, { params: { path: file, error_max_retries: 0 }, input: [{ __type: "Event", "source.ip": "192.0.2.1" }] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /ENOENT.*missing/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), { __type: "Event", "source.ip": "192.0.2.1" });
});
