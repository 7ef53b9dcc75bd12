// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const PAGE = readFileSync(src("services", "parsers", "html_table", "fixtures", "tables.html"), "utf8");
const report = (html: string) => ({
  __type: "Report", "feed.name": "HTML Table Feed", "time.observation": "2019-01-01T00:00:00+00:00",
  raw: Buffer.from(html, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const EXPLOITS = {
  ...HARNESS, columns: "time.source,source.url|__IGNORE__,source.ip,malware.name", ignore_values: ",,-,",
  attribute_name: "class", attribute_value: "ExploitTable", type: "malware-distribution",
  split_column: "source.url", split_separator: null, split_index: -1,
};

test("html_table: rows of the table chosen by a class word, cells to fields, a bad row dumped and the others go on", async () => {
  const out = await runBot(bot, { params: EXPLOITS, input: [report(PAGE)] });
  const events = out.output._default!;
  assert.equal(events.length, 2);
  const [a, b] = events;
  assert.equal(a!["time.source"], "2019-02-15T00:00:00+00:00");
  assert.equal(a!["source.url"], "http://servicestatus.example/b2ccsaG/login.php", "the default protocol is added");
  assert.equal(a!["source.ip"], "192.0.2.100");
  assert.equal(a!["malware.name"], "amadey");
  assert.equal(a!["classification.type"], "malware-distribution");
  assert.equal(unb64(a!.raw), "<tr>\n<td>15-02-2019</td>\n<td>servicestatus.example/b2ccsaG/login.php</td>\n<td>192.0.2.100</td>\n<td>Amadey</td>\n</tr>",
    "raw is the row as BeautifulSoup writes it: whitespace between tags collapsed");
  assert.equal(b!["source.url"], "http://checkz.example/base/admin.php", "split at whitespace, the last part kept");
  assert.equal(b!["source.ip"], undefined, "the ignored value '-' is left out");
  assert.equal(out.dumped, 1, "the row whose date cannot be parsed");
  assert.match(dumpReason(out.dumps[0]!), /not a date at all/);
  assert.match(dumpedRaw(out.dumps[0]!), /^<tr>\n<td>not a date at all<\/td>/);
});

test("html_table: a table chosen by id; entities decoded; attributes quoted and sorted in raw", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, columns: ["time.source", "source.url"], attribute_name: "id", attribute_value: "details" }, input: [report(PAGE)] });
  const [e] = out.output._default!;
  assert.equal(e!["source.url"], "http://files.example.org/a.zip");
  assert.equal(e!["classification.type"], "c2-server", "the default type");
  assert.equal(unb64(e!.raw), "<tr><td class=\"fonce\">2019-02-15 10:00:00</td><td>files.example.org/a.zip\u00a0</td></tr>");
  assert.equal(out.dumped, 0);
});

test("html_table: table_index counts the tables; without skip_table_head the head row is parsed too", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, columns: "extra.date,source.url", table_index: 1, skip_table_head: false }, input: [report(PAGE)] });
  assert.equal(out.output._default!.length, 1, "the head row has only th cells: no values, skipped");
  const out2 = await runBot(bot, { params: { ...HARNESS, columns: "extra.date,extra.what,source.ip,malware.name", skip_table_head: false }, input: [report(PAGE)] });
  assert.equal(out2.output._default![0]!["extra.date"], "15-02-2019");
  // the head row's "-::IP" is no address: as in IntelMQ, a cell none of whose fields takes it fails the row
  assert.match(dumpedRaw(out2.dumps[0]!), /-::DATE/);
  assert.match(dumpReason(out2.dumps[0]!), /no valid value for source\.ip in "-::IP"/);
});

test("html_table: a report without the table is dumped whole, naming the parser", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, table_index: 5 }, input: [report(PAGE)] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /html_table: the report has 2 table\(s\), no table number 5/);
  assert.equal(dumpedRaw(out.dumps[0]!), PAGE);
});

test("html_table: columns and ignore_values of different lengths are refused", async () => {
  await assert.rejects(runBot(bot, { params: { ...HARNESS, columns: "a,b", ignore_values: "x" }, input: [] }), /differ in length/);
});

test("html_table: the sample report (fixtures/sample.json) gives an event per row and dumps nothing", async () => {
  await assertSample(bot, "html_table");
});
