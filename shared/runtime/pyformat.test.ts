// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../message/index.js";
import { PyDateTime, pyFormat, strftime } from "./pyformat.js";
import { formatValue } from "./formatspec.js";
import { PyFloat } from "../harmonization/index.js";
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

test("format specs: Python's mini-language for str, int, float and bool (expected values printed by Python 3.11)", () => {
  const cases: [string, unknown, string, string][] = [
    ["s", "ab", ">5", "   ab"],
    ["s", "ab", "*^7", "**ab***"],
    ["s", "h\u00e9llo", ".3", "h\u00e9l"],
    ["s", "ab", "05", "ab000"],
    ["i", 42, "05", "00042"],
    ["i", -42, "=+8", "-     42"],
    ["i", 1234567, ",", "1,234,567"],
    ["i", 1234567, "_", "1_234_567"],
    ["i", 255, "#x", "0xff"],
    ["i", 255, "X", "FF"],
    ["i", 5, "#b", "0b101"],
    ["i", 65, "c", "A"],
    ["b", true, ">6", "     1"],
    ["b", true, "d", "1"],
    ["f", 3.14159, ".2f", "3.14"],
    ["f", 3.14159, "10.3f", "     3.142"],
    ["f", -2.5, ".1", "-2e+00"],
    ["f", 2.5, ".0f", "2"],
    ["f", 0.5, "#.0f", "0."],
    ["f", 1234.5, ".3", "1.23e+03"],
    ["f", 123.0, ".3", "1.23e+02"],
    ["f", 0.0, ".1", "0e+00"],
    ["f", 0.125, ".1%", "12.5%"],
    ["f", 1e-05, "", "1e-05"],
    ["f", 1e-05, "G", "1E-05"],
    ["f", 12345.678, "e", "1.234568e+04"],
    ["f", 1.5e-07, ".2e", "1.50e-07"],
    ["f", 123.456, "g", "123.456"],
    ["f", 1.234e-05, "g", "1.234e-05"],
    ["f", 1e+20, "%", "10000000000000000000000.000000%"],
    ["f", 1234567.891, ",.2f", "1,234,567.89"],
    ["f", -0.0, "z.1f", "0.0"],
    ["f", 100.0, "", "100.0"],
    ["f", 100.0, ".1f", "100.0"],
    ["f", NaN, "+", "+nan"],
    ["f", 12.0, "#g", "12.0000"],

  ];
  for (const [kind, v, spec, want] of cases) {
    // Python floats keep their type even when integral; JSON lost it, PyFloat restores it.
    const value = kind === "f" ? new PyFloat(v as number) : v;
    assert.equal(formatValue(value, spec), want, `format(${String(v)}, ${JSON.stringify(spec)})`);
  }
  assert.throws(() => formatValue(3, ".2"), /Precision not allowed/);
  assert.throws(() => formatValue("ab", "d"), /Unknown format code 'd'/);
  assert.throws(() => formatValue(null, ">5"), /NoneType/);
});

test("pyFormat: format specs on any value, strftime on dates", () => {
  const event = { "source.port": 80, "feed.accuracy": new PyFloat(100), "source.ip": "192.0.2.1" };
  assert.equal(pyFormat("{event[source.ip]:>15}|{event[source.port]:05d}|{event[feed.accuracy]:.1f}", { event }), "      192.0.2.1|00080|100.0");
  assert.equal(pyFormat("{event[source.ip]!r:>13}", { event }), "  '192.0.2.1'");
  assert.equal(pyFormat("{event[t]:%Y}", { event: { t: new PyDateTime(new Date("2024-09-16T10:00:00Z")) } }), "2024");
});
