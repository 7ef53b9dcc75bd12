// SPDX-License-Identifier: AGPL-3.0-only
/** Dumps: stored, read per bot, deleted, the same on the memory broker and on JetStream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { conformance, next } from "./harness.js";

conformance("dumps", (fx) => {
  test("dumps are stored, read per bot, deleted", async () => {
    const b = await fx.broker();
    const bot = `dumper-${process.pid}-${next()}`;
    const other = `${bot}-other`;
    const base = { source_queue: `${bot}-queue`, traceback: ["Traceback", "ValueError: x"], message: '{"raw":"eA=="}', timestamp: "2024-01-02T03:04:05.000000" };
    await b.dumps.store({ ...base, bot_id: bot });
    await b.dumps.store({ ...base, bot_id: other, traceback: "line failed", message_type: "base64" });
    await b.dumps.store({ ...base, bot_id: bot, message: '{"raw":"eQ=="}' });
    const mine = await b.dumps.read(bot);
    assert.equal(mine.length, 2);
    assert.deepEqual(mine.map((d) => d.message), ['{"raw":"eA=="}', '{"raw":"eQ=="}']);
    assert.ok(mine[0]!.seq < mine[1]!.seq);
    assert.deepEqual(mine[0]!.traceback, ["Traceback", "ValueError: x"]);
    const theirs = await b.dumps.read(other);
    assert.equal(theirs.length, 1);
    assert.equal(theirs[0]!.message_type, "base64");
    assert.equal(theirs[0]!.traceback, "line failed");
    const everyone = await b.dumps.read();
    assert.ok(everyone.filter((d) => d.bot_id === bot || d.bot_id === other).length === 3);
    assert.deepEqual([...(await b.dumps.counts([bot, other, `${bot}-none`])).entries()], [[bot, 2], [other, 1], [`${bot}-none`, 0]]);
    assert.equal(await b.dumps.delete(mine[0]!.seq), true);
    assert.equal(await b.dumps.delete(mine[0]!.seq), false);
    assert.deepEqual((await b.dumps.read(bot)).map((d) => d.seq), [mine[1]!.seq]);
    assert.equal((await b.dumps.counts([bot])).get(bot), 1, "a deleted entry is not counted");
    assert.deepEqual(await b.dumps.read(`${bot}-none`), []);
  });
});
