// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { src } from "../../../test/helpers/paths.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { SCAN_HTTP_COLUMNS, shadowserverFileName, shadowserverScanReport } from "../../../test/helpers/shadowserver.js";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { reportTypeOfFileName } from "./index.js";
import { CONVERTERS, type RowLookup } from "./convert.js";
import { lineEnding, readRecords } from "./csv.js";
import { SHIPPED_SCHEMA, parseSchema } from "./schema.js";

// The conformance checker's variable must not choose the schema of these tests.
delete process.env.INTELMQ_CONFORMANCE_DIR;

const FIXTURES = src("services", "parsers", "shadowserver", "fixtures");
const TEST_SCHEMA = join(FIXTURES, "shadowserver_test_schema.json");
const SMB = readFileSync(join(FIXTURES, "test_smb.csv"), "utf8");
const TELNET = readFileSync(join(FIXTURES, "test_telnet.csv"), "utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0, rate_limit: 0 };

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const report = (raw: string, fileName: string | null, extra: Record<string, unknown> = {}) => ({
  __type: "Report", "time.observation": "2015-01-01T00:00:00+00:00", raw: b64(raw),
  ...(fileName === null ? {} : { "extra.file_name": fileName }), ...extra,
});

async function parse(params: Record<string, unknown>, ...input: Record<string, unknown>[]) {
  return runBot(bot, { rootDir: tempDir("imq-ss-"), params: { ...HARNESS, ...params }, input });
}

test("an SMB report with a schema from a file: the events IntelMQ makes", async () => {
  const out = await parse({ schema_file: TEST_SCHEMA }, report(SMB, "2019-01-01-test_smb-test-geo.csv", { "feed.name": "Test-Accessible-SMB" }));
  assert.equal(out.dumped, 0);
  const events = out.output._default!;
  assert.equal(events.length, 3);
  const { raw, ...first } = events[0]!;
  assert.deepEqual(first, {
    __type: "Event", "feed.name": "Test-Accessible-SMB", "time.observation": "2015-01-01T00:00:00+00:00",
    "time.source": "2010-02-10T00:00:00+00:00", "source.ip": "192.168.0.1", "source.port": 445,
    "source.reverse_dns": "node01.example.com", "source.asn": 64512, "source.geolocation.cc": "ZZ",
    "source.geolocation.region": "Region", "source.geolocation.city": "City",
    "classification.identifier": "test-smb", "classification.taxonomy": "vulnerable", "classification.type": "vulnerable-system",
    "protocol.application": "smb", "protocol.transport": "tcp",
    "extra.smb_implant": false, "extra.smb_major_number": "2", "extra.smb_minor_number": "1",
    "extra.smb_version_string": "SMB 2.1", "extra.smbv1_support": "N", "extra.tag": "smb",
  });
  const lines = SMB.split("\n");
  // IntelMQ writes the header with every name quoted, then the line as it was
  assert.equal(unb64(raw), lines[0]!.split(",").map((c) => (c.startsWith('"') ? c : `"${c}"`)).join(",") + "\n" + lines[1]);
  assert.equal(unb64(events[2]!.raw).split("\n")[1], lines[3]);
});

test("the sample report (scan_smb, shipped schema): every record gives its event", async () => {
  await assertSample(bot, "shadowserver");
});

test("the shipped schema: a scan_http report, file name detected, feed name and documentation from the schema", async () => {
  const text = shadowserverScanReport(40, 3);
  const out = await parse({ overwrite: true }, report(text, shadowserverFileName("scan_http"), { "feed.name": "Shadowserver" }));
  assert.equal(out.dumped, 0);
  const events = out.output._default!;
  assert.equal(events.length, 40);
  const row = text.split("\n")[1]!.slice(1, -1).split('","');
  const col = (name: string) => row[SCAN_HTTP_COLUMNS.indexOf(name as (typeof SCAN_HTTP_COLUMNS)[number])]!;
  const ev = events[0]!;
  assert.equal(ev["feed.name"], "Accessible-HTTP");
  assert.match(String(ev["feed.documentation"]), /^https:\/\/www\.shadowserver\.org\//);
  assert.equal(ev["classification.identifier"], "accessible-http");
  assert.equal(ev["protocol.application"], "http");
  assert.equal(ev["time.source"], col("timestamp").replace(" ", "T") + "+00:00");
  assert.equal(ev["source.ip"], col("ip"));
  assert.equal(ev["source.port"], Number(col("port")));
  assert.equal(ev["extra.http_code"], Number(col("http_code")));
  assert.equal(ev["extra.severity"], col("severity")); // not a field of IntelMQ 3.3's harmonization: kept in extra
  assert.equal(ev.raw !== undefined && unb64(ev.raw).split("\n")[1], text.split("\n")[1]);
  // every event has its own line
  assert.deepEqual(events.map((e) => unb64(e.raw).split("\n")[1]), text.trimEnd().split("\n").slice(1));
  assert.ok(events.every((e) => e["feed.name"] === "Accessible-HTTP" && typeof e["time.source"] === "string"));
});

test("the feedname parameter fixes the report type; without overwrite the report's feed.name stays", async () => {
  const out = await parse({ schema_file: TEST_SCHEMA, feedname: "Test-Accessible-Telnet" }, report(TELNET, null, { "feed.name": "Mine" }));
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default!.map((e) => [e["feed.name"], e["extra.banner"], e["protocol.application"]]), [
    ["Mine", "|MikroTik v6.5|Login:", "telnet"], ["Mine", "|MikroTik v6.45.3 (stable)|Login:", "telnet"],
  ]);
  // a feed name the schema does not know: detected from the file name instead
  const other = await parse({ schema_file: TEST_SCHEMA, feedname: "Unknown", overwrite: true }, report(SMB, "test_smb.csv"));
  assert.equal(other.output._default![0]!["feed.name"], "Test-Accessible-SMB");
});

test("bad lines are dumped with their reason and header, the good ones go on", async () => {
  const lines = TELNET.trimEnd().split("\n");
  const bad = lines[1]!.replace(",5678,", ",port-x,");
  const out = await parse({ schema_file: TEST_SCHEMA }, report([lines[0], bad, lines[2], lines[1]].join("\r\n") + "\r\n", "2019-01-01-test_telnet.csv"));
  assert.equal(out.output._default!.length, 2);
  assert.equal(out.dumped, 1);
  const d = out.dumps[0]!;
  assert.match(dumpReason(d), /^ValueError: shadowserver: Could not convert column 'port' in feed 'Test-Accessible-Telnet', value 'port-x' via conversion function 'convert_int': invalid literal for int\(\)/);
  assert.equal(dumpedRaw(d), lines[0] + "\r\n" + bad);
  // the line ending of the report is kept in each raw
  assert.equal(unb64(out.output._default![0]!.raw), lines[0] + "\r\n" + lines[2]);

  // a required column missing from the header fails each line
  const noTime = await parse({ schema_file: TEST_SCHEMA }, report("ip,port\n192.0.2.1,23\n192.0.2.2,23\n", "test_telnet.csv"));
  assert.equal(noTime.dumped, 2);
  assert.match(dumpReason(noTime.dumps[0]!), /Required column 'timestamp' not found in feed 'Test-Accessible-Telnet'/);
  assert.equal(dumpedRaw(noTime.dumps[1]!), '"ip","port"\n192.0.2.2,23');
});

test("a report of an unknown type, with a bad file name or none, is dumped whole with a reason naming the parser", async () => {
  const cases: [string | null, RegExp][] = [
    ["2024-01-15-scan_nothing-example.csv", /^ValueError: shadowserver: Could not get a config for 'scan_nothing', check the documentation\.$/],
    ["2020.wrong-filename.csv", /^ValueError: shadowserver: Report's 'extra.file_name' '2020.wrong-filename.csv' is not valid\.$/],
    [null, /^ValueError: shadowserver: No feedname given as parameter and the processed report has no 'extra.file_name'/],
  ];
  for (const [name, reason] of cases) {
    const out = await parse({ schema_file: TEST_SCHEMA }, report(TELNET, name));
    assert.equal(out.output._default!.length, 0, String(name));
    assert.equal(out.dumped, 1);
    assert.match(dumpReason(out.dumps[0]!), reason);
    assert.equal(dumpedRaw(out.dumps[0]!), TELNET);
  }
});

test("columns the schema does not name are kept in extra; values that fail their field go there as text", async () => {
  const csv = 'timestamp,ip,port,protocol,asn,geo,new_column,empty_column\n"2019-09-04 12:27:34",192.0.2.9,23,tcp,64496,not-a-cc,hello,\n';
  const out = await parse({ schema_file: TEST_SCHEMA }, report(csv, "test_telnet.csv"));
  const ev = out.output._default![0]!;
  assert.equal(ev["extra.new_column"], "hello");
  assert.equal(ev["extra.empty_column"], undefined);
  assert.equal(ev["extra.geo"], "not-a-cc"); // source.geolocation.cc refused it
  assert.equal(ev["source.geolocation.cc"], undefined);
  assert.equal(ev["source.asn"], 64496);
  // a row shorter than the header: the missing columns are None, kept in extra as null
  const short = await parse({ schema_file: TEST_SCHEMA }, report('timestamp,ip,port,banner,zzz\n"2019-09-04 12:27:34",192.0.2.9,23\n', "test_telnet.csv"));
  assert.equal(short.output._default![0]!["extra.zzz"], null);
  assert.equal(short.output._default![0]!["extra.banner"], undefined);
});

test("the test schema comes from INTELMQ_CONFORMANCE_DIR when set and no schema_file is given", async () => {
  const dir = tempDir("imq-ss-conf-");
  const schema = JSON.parse(readFileSync(TEST_SCHEMA, "utf8")) as Record<string, { feed_name: string }>;
  schema.test_smb!.feed_name = "From-Conformance-Dir";
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "shadowserver_test_schema.json"), JSON.stringify(schema));
  process.env.INTELMQ_CONFORMANCE_DIR = dir;
  try {
    const out = await parse({ overwrite: true }, report(SMB, "test_smb.csv"));
    assert.equal(out.output._default![0]!["feed.name"], "From-Conformance-Dir");
    const own = await parse({ overwrite: true, schema_file: TEST_SCHEMA }, report(SMB, "test_smb.csv"));
    assert.equal(own.output._default![0]!["feed.name"], "Test-Accessible-SMB");
  } finally {
    delete process.env.INTELMQ_CONFORMANCE_DIR;
  }
  // test_mode without the variable: the test schema shipped beside the bot
  const tm = await parse({ test_mode: true }, report(SMB, "test_smb.csv"));
  assert.equal(tm.output._default!.length, 3);
});

test("a schema file that cannot be used stops the bot with the reason", async () => {
  const dir = tempDir("imq-ss-bad-");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "s.json"), '{"x": {"feed_name": "X"}}');
  await assert.rejects(parse({ schema_file: join(dir, "s.json") }, report(SMB, "test_smb.csv")), /cannot load the report schema .*no feed_name or file_name/);
});

test("file names: date, report type, details", () => {
  assert.equal(reportTypeOfFileName("2020-01-01-scan_chargen.csv"), "scan_chargen");
  assert.equal(reportTypeOfFileName("scan_chargen.csv"), "scan_chargen");
  assert.equal(reportTypeOfFileName("2019-01-01-test_smb-test-geo.csv"), "test_smb");
  assert.equal(reportTypeOfFileName("2024-07-04-dns_openresolver-123-sample-asn.csv"), "dns_openresolver");
  assert.equal(reportTypeOfFileName("2020.wrong-filename.csv"), null);
  assert.equal(reportTypeOfFileName("scan_http.txt"), null);
});

test("conversion functions as IntelMQ's", () => {
  const row = (r: Record<string, string | null>): RowLookup => (k) => (k in r ? r[k] : undefined);
  const none = row({});
  const c = (name: string, v: string, r: RowLookup = none) => CONVERTERS[name]!(v, r);
  assert.deepEqual(["true", "Y", "yes", "enabled", "1", "false", "n", "NO", "disabled", "0", "maybe"].map((v) => c("convert_bool", v)),
    [true, true, true, true, true, false, false, false, false, false, null]);
  assert.deepEqual(["", "0", "unknown", "1", "foobar"].map((v) => c("validate_to_none", v)), [null, null, null, "1", "foobar"]);
  assert.deepEqual(["", "0", " 42 ", "-3"].map((v) => c("invalidate_zero", v)), [null, null, 42, -3]);
  assert.throws(() => c("convert_int", "4x"), /invalid literal for int\(\) with base 10: '4x'/);
  assert.equal(c("convert_float", "1.5e3"), 1500);
  assert.deepEqual(["nan", "-inf"].map((v) => c("convert_float", v)), ["nan", "-inf"]); // no such numbers in JSON
  assert.deepEqual(["0.0.0.0", "192.0.2.0/24", "192.0.2.1", "2001:db8::1", "bogus"].map((v) => c("validate_ip", v)),
    [null, null, "192.0.2.1", "2001:db8::1", null]);
  assert.deepEqual(["192.0.2.0/24", "192.0.2.1"].map((v) => c("validate_network", v)), ["192.0.2.0/24", null]);
  assert.deepEqual(["example.com", "", "-bad-.com "].map((v) => c("validate_fqdn", v)).slice(0, 2), ["example.com", null]);
  assert.equal(c("add_UTC_to_timestamp", "2019-09-04 12:27:34"), "2019-09-04 12:27:34 UTC");
  assert.equal(c("convert_date", "Mon, 15 Jan 2024 18:24:38 GMT"), "2024-01-15T18:24:38+00:00");
  assert.equal(c("convert_date_utc", "2024-01-15 18:24:38"), "2024-01-15T18:24:38+00:00");
  assert.equal(c("force_base64", "aGVsbG8="), "aGVsbG8=");
  assert.equal(c("force_base64", "hello world"), b64("hello world"));
  assert.equal(c("force_base64", ""), null);
  assert.equal(c("extract_cve_from_tag", "http;cve-2021-42013;cve-2021-41773;cve-2021-42013"), "cve-2021-41773;cve-2021-42013");
  assert.equal(c("extract_cve_from_tag", "http;x"), null);
  assert.equal(c("scan_exchange_type", "exchange;webshell"), "system-compromise");
  assert.equal(c("scan_exchange_identifier", "exchange"), "vulnerable-exchange-server");
  assert.equal(c("category_or_detail", "", row({ category: "", detail: "d" })), "d");
  assert.equal(c("set_tor_node", "1"), true);
  const url = (r: Record<string, string>) => c("convert_http_host_and_url", "orig", row(r));
  assert.equal(url({ http_host: "example.com", url: "GET /a/b.php?x=1 HTTP/1.1" }), "http://example.com/a/b.php?x=1");
  assert.equal(url({ cc_dns: "", http_host: "", ip: "192.0.2.1", url: "/x", application: "https" }), "https://192.0.2.1/x");
  assert.equal(url({ hostname: "h.example", http_url: "/p q" }), "http://h.example/p");
  assert.equal(url({ http_host: "example.com" }), "orig");
});

test("CSV as Python's csv module reads it; raw of a quoted multi-line record holds all its lines", async () => {
  assert.deepEqual([...readRecords('a,"b,c","x ""y""",\n"multi\nline",z\n\nlast,"open')].map((r) => r.fields),
    [["a", "b,c", 'x "y"', ""], ["multi\nline", "z"], [], ["last", "open"]]);
  assert.equal(lineEnding("a\r\nb\r\n"), "\r\n");
  assert.equal(lineEnding("a\nb\r\n"), "\r\n");
  assert.equal(lineEnding("a\nb"), "\n");
  const csv = 'timestamp,ip,port,banner\n"2019-09-04 12:27:34",192.0.2.9,23,"two\nlines"\n';
  const out = await parse({ schema_file: TEST_SCHEMA }, report(csv, "test_telnet.csv"));
  const ev = out.output._default![0]!;
  assert.equal(ev["extra.banner"], "two\nlines");
  // a byte order mark before the header goes with the surrounding blanks
  const bom = await parse({ schema_file: TEST_SCHEMA }, report("\ufeff" + TELNET, "test_telnet.csv"));
  assert.equal(bom.output._default!.length, 2);
  assert.equal(unb64(ev.raw), '"timestamp","ip","port","banner"\n"2019-09-04 12:27:34",192.0.2.9,23,"two\nlines"');
});

test("the shipped schema is Shadowserver's and parses; the report generator is seeded", () => {
  const s = parseSchema(readFileSync(SHIPPED_SCHEMA, "utf8"), true);
  assert.ok(s.byFileName.size > 100);
  for (const name of ["scan_http", "scan_smb", "scan_telnet", "event4_sinkhole_http", "blocklist"]) assert.ok(s.byFileName.has(name), name);
  assert.equal(shadowserverScanReport(50, 9), shadowserverScanReport(50, 9));
  assert.notEqual(shadowserverScanReport(50, 9), shadowserverScanReport(50, 10));
  assert.equal(shadowserverScanReport(50, 9).trimEnd().split("\n").length, 51);
});
