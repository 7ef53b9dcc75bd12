// SPDX-License-Identifier: AGPL-3.0-only
// Report formats parsers share: CSV of a Python dialect, CSV with a header row, JSON documents,
// lists, lines and streams read as Python reads them, and XML as ElementTree and xmltodict read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodingError } from "../errors/index.js";
import { Report } from "../message/index.js";
import {
  SkippedLine, csvDictRows, jsonLines, jsonListItems, jsonRecover, jsonStream, jsonValue, parseXml, pyDumpsLoaded, pyJsonLoads,
  pyLineEnding, pyLinesKeepEnds, readCsv, reportJson, writeCsvRow, xmlIter, xmlToDict, xmlToString, type CsvDictRow,
} from "./index.js";

const report = (text: string) => new Report({ raw: Buffer.from(text, "utf8").toString("base64") });
const fields = (text: string, d = {}) => [...readCsv(pyLinesKeepEnds(text), d)].map((r) => r.fields);

test("readCsv: Python's csv.reader: quotes, doubled quotes, line breaks in quotes, empty lines, dialects", () => {
  assert.deepEqual(fields('a,"b\nc",d\r\n\r\n"x""y",z'), [["a", "b\nc", "d"], [], ['x"y', "z"]]);
  assert.deepEqual(fields('a;"1;2"\n', { delimiter: ";" }), [["a", "1;2"]]);
  assert.deepEqual(fields('a, "b"\n', { skipinitialspace: true }), [["a", "b"]]);
  assert.deepEqual(fields("a\\,b,c\n", { escapechar: "\\" }), [["a,b", "c"]]);
  assert.deepEqual(fields('"open\nend'), [["open\nend"]], "a record cut by the end is given as far as it goes");
  assert.deepEqual(fields('"ab"c,d'), [["abc", "d"]], "after a closing quote the field goes on (non-strict)");
});

test("writeCsvRow: QUOTE_MINIMAL of the dialect; pyLineEnding as StringIO reports it", () => {
  assert.equal(writeCsvRow(["a", "b,c", 'q"', "l\nb", null, 3]), 'a,"b,c","q""","l\nb",,3\r\n');
  assert.equal(writeCsvRow([""]), '""\r\n');
  assert.equal(writeCsvRow(["a;b", "c"], { delimiter: ";", lineterminator: "\n" }), '"a;b";c\n');
  assert.equal(pyLineEnding("a\nb\n"), "\n");
  assert.equal(pyLineEnding("a\r\nb"), "\r\n");
  assert.equal(pyLineEnding("a\rb\nc"), "\r\n", "mixed endings: csv's default");
  assert.equal(pyLineEnding("a"), "\r\n");
});

test("csvDictRows: header row -> dicts; raw is header and record written back; skips declared", () => {
  const items = [...csvDictRows(report("# c\nip,name,note\n192.0.2.1,\"a, b\",x\n\n192.0.2.2,c\n192.0.2.3,d,e,f\n"), { ignoreLinesStarting: ["#"] })];
  const skips = items.filter((i): i is SkippedLine => i instanceof SkippedLine).map((s) => [s.line, s.reason]);
  assert.deepEqual(skips, [["# c", "ignored start of line"], ["ip,name,note", "CSV header"], ["", "empty line"]]);
  const rows = items.filter((i): i is CsvDictRow => !(i instanceof SkippedLine));
  assert.deepEqual(rows[0]!.values, { ip: "192.0.2.1", name: "a, b", note: "x" });
  assert.equal(rows[0]!.raw, 'ip,name,note\n192.0.2.1,"a, b",x');
  assert.deepEqual(rows[1]!.values, { ip: "192.0.2.2", name: "c", note: undefined }, "a short record: undefined (restval None)");
  assert.equal(rows[1]!.raw, "ip,name,note\n192.0.2.2,c,", "written back padded, as DictWriter");
  assert.deepEqual(rows[2]!.rest, ["f"]);
  assert.equal(rows[2]!.raw, "ip,name,note\n192.0.2.3,d,e,f");
  const quoted = [...csvDictRows(report('a,b\n"1",2\n'))].filter((i) => !(i instanceof SkippedLine)) as CsvDictRow[];
  assert.equal(quoted[0]!.raw, "a,b\n1,2", "written anew");
  assert.equal(quoted[0]!.original, 'a,b\n"1",2', "as the report has it");
  const crlf = [...csvDictRows(report("a,b\r\n1,2\r\n"))].filter((i) => !(i instanceof SkippedLine)) as CsvDictRow[];
  assert.equal(crlf[0]!.raw, "a,b\r\n1,2", "the report's line ending");
  const given = [...csvDictRows(report("1;2\n"), { fieldnames: ["x", "y"], dialect: { delimiter: ";" } })] as CsvDictRow[];
  assert.deepEqual(given[0]!.values, { x: "1", y: "2" });
  assert.equal(given[0]!.raw, "x;y\r\n1;2", "one line, no ending of its own: csv's default");
});

test("reportJson and jsonListItems: a report that is no JSON or no list fails whole, naming the parser", () => {
  assert.deepEqual(reportJson(report('{"a": [1, 2.5]}'), "p"), { a: [1, 2.5] });
  assert.throws(() => reportJson(report("<html>"), "p"), (e: unknown) => e instanceof DecodingError && /p: the report is not JSON/.test(e.message));
  assert.throws(() => reportJson(report(" "), "p"), /p: the report is empty/);
  assert.deepEqual([...jsonListItems(report("[1, {\"b\": 2}]"), "p")], [1, { b: 2 }]);
  const empty = [...jsonListItems(report('[{}, 0, null, [], "", {"a": 1}]'), "p")];
  assert.deepEqual(empty.map((i) => (i instanceof SkippedLine ? i.reason : i)), [...Array(5).fill("an empty item"), { a: 1 }], "Python's false items are no records");
  assert.deepEqual([...jsonListItems(report('{"data": [3]}'), "p", { key: "data" })], [3]);
  assert.throws(() => [...jsonListItems(report('{"x": 1}'), "p")], /p: the report holds an object where a JSON list was expected/);
  assert.deepEqual([...jsonListItems(report(""), "p", { allowEmpty: true })], []);
});

test("pyJsonLoads/pyDumpsLoaded/jsonRecover: floats stay floats when written back; Python's json.dumps spacing", () => {
  const v = pyJsonLoads('[{"lat": 0.000, "n": 1, "e": 1e2, "s": "\\u00e4", "l": [2.0, 3]}]') as Record<string, unknown>[];
  assert.equal(v[0]!.lat, 0);
  assert.equal(pyDumpsLoaded(v), '[{"lat": 0.0, "n": 1, "e": 100.0, "s": "\\u00e4", "l": [2.0, 3]}]');
  assert.equal(jsonRecover(v[0]), '[{"lat": 0.0, "n": 1, "e": 100.0, "s": "\\u00e4", "l": [2.0, 3]}]');
  assert.equal(pyDumpsLoaded({ b: 1, a: 2 }, { sortKeys: true }), '{"a": 2, "b": 1}');
  assert.ok(Number.isNaN(pyJsonLoads("NaN")), "Python takes NaN");
  assert.throws(() => pyJsonLoads('{"a": 1} x'), /Extra data/);
  assert.throws(() => pyJsonLoads('"a\tb"'), /Invalid control character/);
  assert.throws(() => pyJsonLoads("[1,]"), /Expecting value/);
});

test("jsonLines and jsonStream: each value alone, a bad one with its error (jsonValue fails it), the rest go on", () => {
  const lines = [...jsonLines(report('{"a": 1}\n\nnot json\n[2]\n'))];
  assert.deepEqual(lines.map((l) => l.value), [{ a: 1 }, undefined, [2]]);
  assert.match(String(lines[1]!.error), /Expecting value/);
  assert.throws(() => jsonValue(lines[1]!), (e: unknown) => e instanceof DecodingError && /not JSON/.test(e.message));
  assert.throws(() => jsonValue(lines[2]!, "object"), /a list where a JSON object was expected/);
  const stream = [...jsonStream(report('{"a": "}{"}{"b": [1,\n 2]}\n  3\ngarbage here\n{"c": 1}'))];
  assert.deepEqual(stream.map((s) => s.value ?? s.error?.slice(0, 15)), [{ a: "}{" }, { b: [1, 2] }, 3, "Expecting value", { c: 1 }]);
});

test("parseXml/xmlToString/xmlIter: ElementTree's tree and writing (CDATA as text, <e />, entities, tails)", () => {
  const root = parseXml('<?xml version="1.0"?>\n<!-- c --><r a="1&amp;2"><e><x><![CDATA[a<b]]></x><y></y>tail</e>\n<e>&#65;</e></r>\n');
  const entries = [...xmlIter(root, "e")];
  assert.equal(entries.length, 2);
  assert.equal(xmlToString(entries[0]!), "<e><x>a&lt;b</x><y />tail</e>\n");
  assert.equal(xmlToString(root).startsWith('<r a="1&amp;2"><e>'), true);
  assert.equal(entries[1]!.text, "A");
  assert.throws(() => parseXml("<a><b></a>"), /mismatched tag/);
  assert.throws(() => parseXml("<a/><b/>"), /junk after document element/);
  assert.throws(() => parseXml("<a>&nope;</a>"), /undefined entity/);
  assert.throws(() => parseXml(""), /no element found/);
});

test("xmlToDict: xmltodict's shape (@attributes, #text, repeated children as lists, text-only elements as text)", () => {
  const d = xmlToDict(parseXml('<r id="1"><i k="a">x</i><i k="b"/><t>text</t><n/></r>'));
  assert.deepEqual(d, { "@id": "1", i: [{ "@k": "a", "#text": "x" }, { "@k": "b" }], t: "text", n: null });
});
