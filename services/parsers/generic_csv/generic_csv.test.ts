// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import { src } from "../../../test/helpers/paths.js";
import { runBot } from "../../../shared/sdk/index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import bot from "./index.js";
import { cleanReport, detectLineEnding, readRecords, writeRow } from "./csv.js";
import { fromEpochMillis, fromFuzzy, fromTimestamp, fromWindowsNt, fuzzyFastPath, timeConverter } from "./time.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const report = (raw: string, extra: Record<string, unknown> = {}) => ({
  __type: "Report", "feed.name": "Sample CSV Feed", "time.observation": "2015-01-01T00:00:00+00:00", raw: b64(raw), ...extra,
});
const HARNESS = { error_max_retries: 0, error_retry_delay: 0, rate_limit: 0 };

async function parse(params: Record<string, unknown>, raw: string) {
  return runBot(bot, { params: { ...HARNESS, ...params }, input: [report(raw)] });
}

test("csv reader: quotes, doubled quotes, quoted newlines, empty fields and line endings as Python's csv", () => {
  const rows = [...readRecords('a,"b,c","say ""hi""",\r\n"multi\nline",x\n\nlast,"open', ",")];
  assert.deepEqual(rows, [["a", "b,c", 'say "hi"', ""], ["multi\nline", "x"], [], ["last", "open"]]);
  assert.deepEqual([...readRecords('"ab"cd,e\r"x"', ",")], [["abcd", "e"], ["x"]]);
  assert.deepEqual([...readRecords("a\tb\t\tc", "\t")], [["a", "b", "", "c"]]);
});

test("csv reader: lines without quotes read as Python's csv reads them (random text of commas, spaces and line breaks)", () => {
  // Python's csv.reader on text without quotes: a record ends at \r, \n or \r\n, an empty line is []
  const reference = (text: string): string[][] => {
    const out: string[][] = [];
    for (let i = 0; i < text.length;) {
      let j = i;
      while (j < text.length && text[j] !== "\n" && text[j] !== "\r") j++;
      const line = text.slice(i, j);
      out.push(line === "" ? [] : line.split(","));
      if (j < text.length) j += text[j] === "\r" && text[j + 1] === "\n" ? 2 : 1;
      i = j;
    }
    return out;
  };
  const alphabet = ["a", "b", ",", " ", "\r", "\n", "\r\n", "x1"];
  let seed = 3;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let k = 0; k < 500; k++) {
    let text = "";
    for (let i = rand(30); i > 0; i--) text += alphabet[rand(alphabet.length)];
    assert.deepEqual([...readRecords(text, ",")], reference(text), JSON.stringify(text));
  }
});

test("csv writer quotes only what needs it and keeps the line ending", () => {
  assert.equal(writeRow(["a", "b,c", 'x"y', "l\nm", ""], ",", "\r\n"), 'a,"b,c","x""y","l\nm",\r\n');
  assert.equal(writeRow([""], ",", "\n"), '""\n');
  assert.equal(writeRow(["a b", "c"], " ", "\n"), '"a b" c\n');
});

test("clean-up drops comments, blank lines and leading blanks; line ending detection", () => {
  assert.equal(cleanReport(" # c\n\t#d\n   \n\t x,y\n\0z\n#e"), "x,y\nz\n");
  assert.equal(cleanReport("a,b\nc,d\n"), "a,b\nc,d\n");
  assert.equal(detectLineEnding("a\nb\n"), "\n");
  assert.equal(detectLineEnding("a\r\nb\r\n"), "\r\n");
  assert.equal(detectLineEnding("a\nb\r\n"), "\r\n");
  assert.equal(detectLineEnding("a\rb"), "\r");
  assert.equal(detectLineEnding("ab"), "\r\n");
});

test("time conversions as IntelMQ's DateTime", () => {
  assert.equal(fromTimestamp("1495782036"), "2017-05-26T07:00:36+00:00");
  assert.equal(fromTimestamp("1495782036.25"), "2017-05-26T07:00:36.250000+00:00");
  assert.equal(fromEpochMillis("1495782036000"), "2017-05-26T07:00:36+00:00");
  assert.equal(fromEpochMillis("149578203600"), "2017-05-26T07:00:36+00:00");
  assert.equal(fromEpochMillis("12345"), null);
  assert.equal(fromWindowsNt("131349599830000000"), "2017-03-25T23:59:43+00:00");
  assert.equal(fromFuzzy("2015-12-14 04:19:00"), "2015-12-14T04:19:00+00:00");
  assert.equal(fromFuzzy("01/Aug/2018:09:49:41 +0200"), "2018-08-01T07:49:41+00:00");
  assert.throws(() => timeConverter("nonsense"), /time_format/);
  assert.throws(() => timeConverter("from_format"), /FORMAT_STRING/);
  assert.throws(() => timeConverter("timestamp|%Y"), /time_format/);
});

test("columns, comments, URL protocol, type and raw as IntelMQ writes them", async () => {
  const out = await parse({
    columns: "time.source, __IGNORE__, event_description.text, source.url, source.ip", delimiter: "\t", type: "malware-distribution",
  }, "# comment\n \n2015-12-14 04:19:00\tX\tbad site\twww.example.com/a.zip\t198.51.100.5\n");
  const [ev] = out.output._default!;
  assert.equal(out.output._default!.length, 1);
  assert.equal(ev!["time.source"], "2015-12-14T04:19:00+00:00");
  assert.equal(ev!["event_description.text"], "bad site");
  assert.equal(ev!["source.url"], "http://www.example.com/a.zip");
  assert.equal(ev!["source.ip"], "198.51.100.5");
  assert.equal(ev!["classification.type"], "malware-distribution");
  assert.equal(ev!["feed.name"], "Sample CSV Feed");
  assert.equal(unb64(ev!.raw), "2015-12-14 04:19:00,X,bad site,www.example.com/a.zip,198.51.100.5\n");
});

test("skip_header keeps the header lines in raw; quoted JSON column with data_type; CRLF kept", async () => {
  const raw = 'ip,url,tags\r\n11.11.11.11,http://test.com,"[""t1"",""t2""]"\r\n';
  const out = await parse({ columns: ["source.ip", "source.url", "extra.tags"], skip_header: true, type: "infected-system", data_type: '{"extra.tags":"json"}' }, raw);
  const [ev] = out.output._default!;
  assert.deepEqual(ev!["extra.tags"], ["t1", "t2"]);
  assert.equal(unb64(ev!.raw), raw);
  const two = await parse({ columns: ["source.ip"], skip_header: 2, type: "blacklist" }, "x\ny\n10.0.0.1\n");
  assert.equal(unb64(two.output._default![0]!.raw), "x\ny\n10.0.0.1\n");
});

test("raw of a plain comma-separated line is the line as written back: the same as of its quoted spelling", async () => {
  const lines = [
    "192.0.2.1,a b ,x", '"192.0.2.1","a b ",x', "192.0.2.1,,x", '192.0.2.1,"c,d",x', '192.0.2.1,"e""f",x', "192.0.2.1,g\th,x",
  ];
  const out = await parse({ columns: ["source.ip", "extra.a", "extra.b"], type: "blacklist" }, lines.join("\r\n") + "\r\n");
  const raws = out.output._default!.map((e) => unb64(e.raw));
  assert.deepEqual(raws, [
    "192.0.2.1,a b ,x\r\n", "192.0.2.1,a b ,x\r\n", "192.0.2.1,,x\r\n", '192.0.2.1,"c,d",x\r\n', '192.0.2.1,"e""f",x\r\n', "192.0.2.1,g\th,x\r\n",
  ]);
  for (const [i, e] of out.output._default!.entries()) {
    const fields = [...readRecords(lines[i]! + "\n", ",", 0, { start: 0, end: 0 })][0]!;
    assert.equal(unb64(e.raw), writeRow(fields, ",", "\r\n"), lines[i]);
  }
  // another delimiter: written back with commas
  const semi = await parse({ columns: ["source.ip", "extra.a"], delimiter: ";", type: "blacklist" }, "192.0.2.1;b,c\n");
  assert.equal(unb64(semi.output._default![0]!.raw), '192.0.2.1,"b,c"\n');
});

test("alternatives, required columns, failed lines dumped and sent to _on_error", async () => {
  const raw = "host1.example.com\n192.0.2.1\n.\n";
  const out = await parse({ columns: ["source.ip|source.fqdn"], type: "scanner" }, raw);
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"] ?? e["source.ip"]), ["host1.example.com", "192.0.2.1"]);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue: invalid value '\.' .* for key 'source\.fqdn'/);
  assert.equal(dumpedRaw(out.dumps[0]!), ".\n");
  assert.equal(out.output._on_error!.length, 1);
  assert.equal(unb64(out.output._on_error![0]!.raw), ".\n");
  const lax = await parse({ columns: ["source.ip", "source.fqdn"], columns_required: [true, false], type: "scanner" }, "192.0.2.1,.\n");
  assert.equal(lax.dumped, 0);
  assert.equal(lax.output._default![0]!["source.fqdn"], undefined);
});

test("filter_text with whitelist and blacklist", async () => {
  const raw = "ipset add x 127.0.0.1\nipset add x 10.1.1.1\niptables -A x\n";
  const cols = { columns: ["__IGNORE__", "__IGNORE__", "__IGNORE__", "source.ip"], delimiter: " ", type: "blacklist" };
  const black = await parse({ ...cols, filter_text: "127.0.0.1", filter_type: "blacklist" }, raw.split("\n").slice(0, 2).join("\n"));
  assert.deepEqual(black.output._default!.map((e) => e["source.ip"]), ["10.1.1.1"]);
  const white = await parse({ ...cols, filter_text: "ipset add", filter_type: "whitelist" }, raw);
  assert.deepEqual(white.output._default!.map((e) => e["source.ip"]), ["127.0.0.1", "10.1.1.1"]);
  await assert.rejects(parse({ ...cols, filter_text: "x", filter_type: "greylist" }, raw), /filter_type/);
});

test("column_regex_search is Python's re.search: $ before a final newline, \\A only at the start", async () => {
  // re.search('^[a-z]+$', 'abc\n').group(0) == 'abc'; re.search(r'(?m)\A[a-z]+', '1\nxyz') is None
  const out = await parse({ columns: ["source.ip", "extra.tag", "extra.other"], column_regex_search: { "extra.tag": "^[a-z]+$", "extra.other": "(?m)\\A[a-z]+" } },
    '192.0.2.1,"abc\n","1\nxyz"\n');
  const [ev] = out.output._default!;
  assert.equal(ev!["extra.tag"], "abc");
  assert.equal(ev!["extra.other"], undefined);
});

test("time conversions read numbers as Python's float() and int() do", async () => {
  // float('1_495_782_036') == 1495782036.0; int(' 131349599830000000 ') strips the blanks
  assert.equal(fromTimestamp("1_495_782_036"), "2017-05-26T07:00:36+00:00");
  assert.equal(fromWindowsNt(" 131349599830000000 "), "2017-03-25T23:59:43+00:00");
  assert.throws(() => fromTimestamp("abc"), /could not convert string to float: 'abc'/);
  const out = await parse({ columns: ["source.ip", "time.source"], time_format: "timestamp" }, "192.0.2.1,1_495_782_036\n");
  assert.equal(out.output._default![0]!["time.source"], "2017-05-26T07:00:36+00:00");
});

test("type_translation, compose_fields, column_regex_search and time formats", async () => {
  const out = await parse({
    columns: ["source.fqdn", "source.urlpath", "classification.type", "source.asn", "time.source"],
    type_translation: { bad: "malware-distribution" }, compose_fields: { "source.url": "http://{0}{1}" },
    column_regex_search: { "source.asn": "[0-9]+" }, time_format: "epoch_millis",
  }, "example.com,/foo/,bad,AS65536,1495782036\nexample.org,/x,unknown-word,AS1,1495782036\n");
  const [ev] = out.output._default!;
  assert.equal(ev!["classification.type"], "malware-distribution");
  assert.equal(ev!["source.url"], "http://example.com/foo/");
  assert.equal(ev!["source.asn"], 65536);
  assert.equal(ev!["time.source"], "2017-05-26T07:00:36+00:00");
  // an untranslatable type without `type` fails its line, as IntelMQ
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /unknown-word/);
  assert.equal(dumpedRaw(out.dumps[0]!), "example.org,/x,unknown-word,AS1,1495782036\n");
});

test("the fast paths of fuzzy time parsing give what dateutil gives", () => {
  const lines = readFileSync(src("shared/harmonization/fixtures/dateutil-cases.jsonl"), "utf8").split("\n").filter(Boolean).slice(1);
  let covered = 0;
  for (const line of lines) {
    const c = JSON.parse(line) as { input: string; fuzzy: string | null };
    const got = fuzzyFastPath(c.input);
    if (got === undefined) continue;
    covered++;
    assert.equal(got, c.fuzzy, c.input);
  }
  assert.ok(covered >= 8, `${covered} inputs took a fast path`);
});

test("control characters never reach source.fqdn or source.url: such a line is dumped", async () => {
  const out = await parse({ columns: ["source.fqdn", "source.url"], type: "phishing" },
    "ok.example.com,http://ok.example.com/a\nexa\x01mple.com,http://example.com/x\nexample.net,http://example.net/a\x1b[0mb\n");
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["ok.example.com"]);
  assert.equal(out.dumped, 2);
  assert.deepEqual(out.dumps.map((d) => [dumpReason(d), dumpedRaw(d)]), [
    ["intelmq.lib.exceptions.InvalidValue: invalid value 'exa\x01mple.com' (<class 'str'>) for key 'source.fqdn'", "exa\x01mple.com,http://example.com/x\n"],
    ["intelmq.lib.exceptions.InvalidValue: invalid value 'http://example.net/a\x1b[0mb' (<class 'str'>) for key 'source.url'", "example.net,http://example.net/a\x1b[0mb\n"],
  ]);
  for (const e of out.output._default!) assert.doesNotMatch(`${e["source.fqdn"]} ${e["source.url"]}`, /[\x00-\x1f\x7f-\x9f]/);
});

test("a line none of whose columns gives a value is dumped, even with the type parameter", async () => {
  const out = await parse({ columns: ["source.ip", "source.fqdn"], columns_required: [false, false], type: "scanner" },
    "192.0.2.1,\n,\n-,N/A\n");
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1"]);
  assert.equal(out.dumped, 2);
  assert.deepEqual(out.dumps.map((d) => [dumpReason(d), dumpedRaw(d)]), [
    ['ValueError: generic_csv: no column of the line gives a value: ","', ",\n"],
    ['ValueError: generic_csv: no column of the line gives a value: "-,N/A"', "-,N/A\n"],
  ]);
});

test("comments, header lines and filtered lines are declared skipped", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, new Writable({ write(c, _e, cb) { for (const l of String(c).split("\n")) if (l) lines.push(JSON.parse(l)); cb(); } }));
  const out = await runBot(bot, {
    log, params: { ...HARNESS, logging_level: "DEBUG", columns: ["source.ip"], type: "scanner", skip_header: 1, filter_text: "10.", filter_type: "blacklist" },
    input: [report("ip\n# a comment\n192.0.2.1\n10.0.0.1\n")],
  });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.1"]);
  assert.deepEqual(lines.filter((l) => l.msg === "Skipped line.").map((l) => [l.line, l.reason]),
    [["# a comment", "comment"], ["ip", "header"], ["10.0.0.1", "filter_type blacklist"]]);
});

test("generic_csv: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "generic_csv");
});

test("a report larger than a window is streamed and gives what the whole text gives", async () => {
  // Records whose quoted fields hold line breaks, comments and blank lines, CRLF: some records
  // are cut by the windows the raw is read in, and must come out whole.
  const parts: string[] = ["\uFEFF# a comment first\r\n"];
  for (let i = 0, size = 0; size < 3.2 * 1024 * 1024; i++) {
    if (i % 997 === 0) parts.push("# comment line\r\n\r\n");
    const note = i % 2 === 0 ? `"line one\r\nline ""two"" of ${i}"` : `plain ${i}`;
    const line = `192.0.2.${i % 250},host${i}.example.org,${note},${"x".repeat(i % 40)}\r\n`;
    parts.push(line);
    size += line.length;
  }
  const text = parts.join("");
  const params = { columns: ["source.ip", "source.fqdn", "extra.note", "extra.pad"], delimiter: ",", type: "scanner" };
  const input = report(text);
  assert.equal(encodeEnvelope([input])[0], 0xc1, "the report travels framed, its raw streamed");
  const out = await runBot(bot, { params: { ...HARNESS, ...params }, input: [input] });
  assert.equal(out.dumped, 0);
  const cleaned = cleanReport(text.slice(1));
  const ending = detectLineEnding(cleaned);
  const want = [...readRecords(cleaned, ",")].filter((r) => r.length > 0).map((r) => writeRow(r, ",", ending));
  const got = (out.output._default ?? []).map((e) => unb64(e.raw));
  assert.equal(got.length, want.length);
  assert.deepEqual(got, want);
  assert.equal((out.output._default ?? []).filter((e) => String(e["extra.note"]).includes("\r\n")).length, Math.ceil(want.length / 2));
});

test("time: the fast path of fuzzy parsing gives what the harmonization's fuzzy conversion gives", async () => {
  const { fuzzyFastPath } = await import("./time.js");
  const { callTypeMethod } = await import("../../../shared/sdk/index.js");
  const values = [
    "2024-09-09 17:42:00", "2024-09-09T17:42:00", "2024-02-29 00:00:00", "2023-02-28 23:59:59", "0100-01-01 00:00:00",
    "9999-12-31 23:59:59", "2000-02-29 12:00:00", "2024-09-09 17:42:00.5", "2024-09-09 17:42:00.123456",
  ];
  for (const v of values) {
    const fast = fuzzyFastPath(v);
    assert.ok(fast !== undefined, `fast path for ${v}`);
    assert.equal(fast, callTypeMethod("DateTime", "convert", { value: v, format: "fuzzy" }), v);
  }
  // no day 30 in February, no hour 24, no month 13, no year 1900 leap day: not the fast path's to say
  for (const v of ["2023-02-29 00:00:00", "2024-02-30 00:00:00", "2024-01-01 24:00:00", "2024-13-01 00:00:00", "1900-02-29 00:00:00", "2024-01-01x00:00:00", "20a4-01-01 00:00:00"]) {
    assert.equal(fuzzyFastPath(v), undefined, v);
  }
});
