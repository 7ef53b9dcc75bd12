// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigurationError, runBot } from "../../../shared/sdk/index.js";
import bot, { pyReplace, pySplit, pyStripChars } from "./index.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const OBS = "2018-07-27T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("string helpers: like Python's strip, replace and split", () => {
  assert.equal(pyStripChars("xx-abc-yx", "xy-"), "abc");
  assert.equal(pyStripChars(" \t abc \n", null), "abc");
  assert.equal(pyStripChars(" abc ", ""), " abc ");
  assert.equal(pyReplace("a.a.a", ".", "-", 1), "a-a.a");
  assert.equal(pyReplace("a.a.a", ".", "-", -1), "a-a-a");
  assert.equal(pyReplace("a.a.a", ".", "-", 0), "a.a.a");
  assert.equal(pyReplace("ab", "", "-", -1), "-a-b-");
  assert.equal(pyReplace("ab", "", "-", 1), "-ab");
  assert.deepEqual(pySplit("a,,b", ","), ["a", "", "b"]);
  assert.deepEqual(pySplit("  a  b\tc ", null), ["a", "b", "c"]);
  assert.deepEqual(pySplit("   ", null), []);
});

test("format_field: strip the listed fields", async () => {
  const out = await runBot(bot, {
    params: { strip_columns: "malware.name, extra.abuse" },
    input: [ev({ "malware.name": " cryptowall ", "extra.abuse": " abuse@example.com", "feed.name": " kept " })],
  });
  assert.deepEqual(out.output._default![0], ev({ "malware.name": "cryptowall", "extra.abuse": "abuse@example.com", "feed.name": " kept " }));
});

test("format_field: replace the first replace_count occurrences", async () => {
  const input = [ev({ "feed.url": "http://localhost/localhost.php" })];
  const once = await runBot(bot, { params: { replace_column: "feed.url", old_value: "localhost", new_value: "127.0.0.1" }, input });
  assert.equal(once.output._default![0]!["feed.url"], "http://127.0.0.1/localhost.php");
  const all = await runBot(bot, { params: { replace_column: "feed.url", old_value: "localhost", new_value: "127.0.0.1", replace_count: "-1" }, input });
  assert.equal(all.output._default![0]!["feed.url"], "http://127.0.0.1/127.0.0.1.php");
});

test("format_field: split into a list, after strip and replace", async () => {
  const out = await runBot(bot, {
    params: { strip_columns: ["extra.tags"], strip_chars: ",", replace_column: "extra.tags", old_value: ";", new_value: ",", replace_count: -1, split_column: "extra.tags" },
    input: [ev({ "extra.tags": ",ddos;elf,gafgyt," }), ev({ "feed.name": "no tags" })],
  });
  assert.deepEqual(out.output._default![0]!["extra.tags"], ["ddos", "elf", "gafgyt"]);
  assert.deepEqual(out.output._default![1], ev({ "feed.name": "no tags" }));
});

test("format_field: a non-string value fails that event", async () => {
  const out = await runBot(bot, { params: { strip_columns: "source.port" }, input: [ev({ "source.port": 80 })] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue: invalid value 80 .* for key 'source\.port' is no string, cannot strip it/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), ev({ "source.port": 80 }));
  assert.equal(out.output._default?.length ?? 0, 0);
});

test("format_field: an empty split_separator fails the start, naming it", async () => {
  await assert.rejects(
    runBot(bot, { params: { split_column: "extra.tags", split_separator: "" }, input: [] }),
    (e: unknown) => e instanceof ConfigurationError && /split_separator/.test(e.message),
  );
  await assert.rejects(runBot(bot, { params: { replace_count: "many" }, input: [] }), (e: Error) => /replace_count/.test(e.message));
});
