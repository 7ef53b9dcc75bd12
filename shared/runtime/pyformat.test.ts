// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../message/index.js";
import { PyDateTime, pyFormat, strftime } from "./pyformat.js";
import { exportEventDict, exportEventText, type ExportOptions } from "./output-options.js";

const OPTIONS: ExportOptions = { hierarchical_output: false, message_with_type: false, message_jsondict_as_string: false, single_key: null, keep_raw_field: false };

test("pyFormat: str() and repr() are Python's (escapes of non-printable characters, float exponents)", () => {
  // Python: repr('a\x01é\u200b') == "'a\\x01é\\u200b'", str(1e-05) == '1e-05', str(1.5e-07) == '1.5e-07'
  assert.equal(pyFormat("{event[s]!r}", { event: { s: "a\x01é\u200b" } }), "'a\\x01é\\u200b'");
  assert.equal(pyFormat("{event[f]}/{event[g]}", { event: { f: 1e-5, g: 1.5e-7 } }), "1e-05/1.5e-07");
  assert.equal(pyFormat("{event[d]}", { event: { d: { k: ["x\ty", null, true] } } }), "{'k': ['x\\ty', None, True]}");
});

test("pyFormat: dates format with strftime, print as str(datetime)", () => {
  const dt = PyDateTime.fromIso("2024-09-01T05:06:07+00:00")!;
  assert.equal(pyFormat("{e[t]:%Y/%m/%d}|{e[t]}", { e: { t: dt } }), "2024/09/01|2024-09-01 05:06:07+00:00");
  assert.equal(strftime(dt, "%G-W%V-%u"), "2024-W35-7");
});

test("export options: single_key raw is utils.base64_decode (invalid UTF-8 dropped)", () => {
  const event = new Event({ raw: Buffer.from([0x61, 0xff, 0x62]).toString("base64"), "source.ip": "192.0.2.1" });
  assert.equal(exportEventText(event, { ...OPTIONS, single_key: "raw" }), "ab");
  assert.equal(exportEventDict(event, { ...OPTIONS, single_key: "raw" }), "ab");
  assert.equal(exportEventText(event, { ...OPTIONS, single_key: "source.ip" }), "192.0.2.1");
  assert.equal(exportEventText(event, OPTIONS), '{"source.ip": "192.0.2.1"}');
});
