// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's dump file format: read and written back byte for byte as IntelMQ's bots write it. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../test/helpers/paths.js";
import { dumpFileText, parseDumpFile, pythonIndentedJson } from "./dump-files.js";

const FILE = src("cli", "fixtures", "dumps", "dp-filter.dump");

test("a dump file as IntelMQ writes it is read and written back unchanged", () => {
  const text = readFileSync(FILE, "utf8");
  const entries = parseDumpFile(text, "dp-filter", FILE);
  assert.equal(entries.length, 3);
  assert.equal(entries[0]!.timestamp, "2024-09-16T10:00:01.123456");
  assert.equal(entries[2]!.message_type, "base64");
  assert.equal(entries[2]!.traceback, "ValueError: not a message");
  assert.equal(dumpFileText(entries).text, text);
});

test("entries sharing a timestamp keep apart a microsecond; a file without bot_id takes the file's name", () => {
  const e = { bot_id: "x", source_queue: "x-queue", traceback: [], message: "{}", timestamp: "2024-01-01T00:00:59.999999" };
  const { text, renamed } = dumpFileText([e, e, { ...e, timestamp: "2024-01-01T00:00:00" }, { ...e, timestamp: "2024-01-01T00:00:00" }]);
  assert.equal(renamed, 2);
  assert.deepEqual(Object.keys(JSON.parse(text) as object).sort(), ["2024-01-01T00:00:00", "2024-01-01T00:00:00.000001", "2024-01-01T00:00:59.999999", "2024-01-01T00:01:00.000000"]);
  const parsed = parseDumpFile('{"2024-01-01T00:00:00": {"message": "{}", "traceback": ["E"]}}', "from-name");
  assert.equal(parsed[0]!.bot_id, "from-name");
  assert.equal(parsed[0]!.source_queue, null);
  assert.throws(() => parseDumpFile("[]", null), /JSON object keyed by timestamps/);
});

test("pythonIndentedJson: Python's indent=4, sorted keys, ASCII escapes", () => {
  assert.equal(pythonIndentedJson({ b: [], a: { d: "é\u007f", c: null } }), '{\n    "a": {\n        "c": null,\n        "d": "\\u00e9\\u007f"\n    },\n    "b": []\n}');
});
