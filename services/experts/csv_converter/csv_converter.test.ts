// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { csvRow } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("csvRow: Python's csv.writer quoting", () => {
  assert.equal(csvRow(["a", "b"], ","), "a,b");
  assert.equal(csvRow(["a,b", 'say "hi"', "x\ny"], ","), '"a,b","say ""hi""","x\ny"');
  assert.equal(csvRow(["a,b", "c"], ";"), "a,b;c", "only the delimiter in use is quoted");
  assert.equal(csvRow(["", "x"], ","), ",x");
  assert.equal(csvRow([""], ","), '""', "a lone empty field is quoted, as Python does");
});

test("csv_converter: the chosen fields, missing ones empty, into output (a JSON string)", async () => {
  const out = await runBot(bot, {
    params: { fieldnames: "time.observation,source.ip,source.port,feed.name", delimiter: ";" },
    input: [ev({ "source.ip": "192.0.2.1", "source.port": 80 })],
  });
  const got = out.output._default![0]!;
  assert.equal(got.output, JSON.stringify(`${OBS};192.0.2.1;80;`));
  assert.equal(got["source.ip"], "192.0.2.1", "the fields stay");
});

test("csv_converter: a delimiter of more than one character is refused at start", async () => {
  await assert.rejects(runBot(bot, { params: { delimiter: "||" }, input: [] }), (e: Error) => /delimiter/.test(e.message));
});
