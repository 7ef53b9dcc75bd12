// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot, { params, rpzHeader } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const tmp = () => tempDir("rpz-output-");
const LONG = "pw.aparat.com.torojoonemadaretkarkonkhasteshodamdigeenqadtestzadam.filterchipedaramodarovordibekeshbiroon.dollarshode20000tomanbaskondigeh.salavatemohammadibefres.soltane-tel-injas-heh.digital";
const event = (extra: Record<string, unknown> = {}) => ({
  __type: "Event", "feed.accuracy": 100.0, "feed.name": "MISP events", "classification.type": "phishing",
  "time.source": "2020-10-20T12:57:33+00:00", "source.fqdn": LONG, ...extra,
});

/** The header's line with the start time differs run to run; the rest is fixed. */
const withoutTime = (text: string) => text.replace(/^; Last updated: .*$/m, "; Last updated: T (UTC)").replace(/^(@ SOA \S* \S* )\d{10} /m, "$1S ");

test("an empty file gets the header, then both rules of the domain (IntelMQ's test)", async () => {
  const file = join(tmp(), "zone");
  writeFileSync(file, "");
  const out = await runBot(bot, { params: { ...HARNESS, hierarchical_output: true, file, cname: "cert.aa." }, input: [event()] });
  assert.equal(out.dumped, 0);
  const lines = readFileSync(file, "utf8").split("\n");
  assert.equal(lines.length, 13);
  assert.equal(lines[4], ";  Response Policy Zones (RPZ)");
  assert.equal(lines[10], `${LONG} CNAME cert.aa.`);
  assert.equal(lines[11], `www.${LONG} CNAME cert.aa.`);
  assert.equal(lines[12], "");
  assert.equal(withoutTime(readFileSync(file, "utf8")),
    "$TTL 3600\n@ SOA . . S 60 60 432000 60\n NS localhost.\n;\n;  Response Policy Zones (RPZ)\n; Last updated: T (UTC)\n;\n"
    + `; Terms Of Use: https://\n; For questions please contact \n;\n${LONG} CNAME cert.aa.\nwww.${LONG} CNAME cert.aa.\n`);
});

test("a file with content gets no second header; www. is stripped once; events without source.fqdn write nothing", async () => {
  const file = join(tmp(), "zone");
  writeFileSync(file, "existing\n");
  const out = await runBot(bot, {
    params: { ...HARNESS, file, cname: ".", dns_record_type: "CNAME" },
    input: [event({ "source.fqdn": "www.example.com" }), event({ "source.fqdn": undefined, "source.ip": "192.0.2.1" }), event({ "source.fqdn": "example.net" })],
  });
  assert.equal(out.dumped, 0);
  assert.equal(readFileSync(file, "utf8"),
    "existing\nexample.com CNAME .\nwww.example.com CNAME .\nexample.net CNAME .\nwww.example.net CNAME .\n");
});

test("header parameters: SOA, organisation, contact, serial and test_domain", () => {
  const prm = params.parse({ rpz_domain: "rpz.example", hostmaster_rpz_domain: "hostmaster.example", rpz_email: "rpz@example.org",
    organization_name: "Example CERT", serial: 2401011200, ttl: "7200", cname: "walled.example.", test_domain: "test.rpz.example" });
  const start = new Date(2024, 0, 2, 3, 4, 5); // local time, as IntelMQ's datetime.now()
  assert.equal(rpzHeader(prm, start),
    "$TTL 7200\n@ SOA rpz.example. hostmaster.example. 2401011200 60 60 432000 60\n NS localhost.\n;\n; Example CERT Response Policy Zones (RPZ)\n"
    + "; Last updated: 2024-01-02 03:04:05 (UTC)\n;\n; Terms Of Use: https://rpz.example\n; For questions please contact rpz@example.org\n;\n"
    + "test.rpz.example CNAME walled.example.\n");
  assert.match(rpzHeader(params.parse({}), start), /^@ SOA \. \. 2401020304 60 60 432000 60$/m);
});

test("format_filename: one zone file per day, each with its header; a missing field fails the event", async () => {
  const dir = tmp();
  const out = await runBot(bot, {
    params: { ...HARNESS, file: join(dir, "{event[time.source]:%Y-%m-%d}.rpz"), format_filename: true, cname: "." },
    input: [event(), event({ "time.source": "2020-10-21T01:00:00+00:00", "source.fqdn": "example.com" }), { __type: "Event", "source.fqdn": "example.org" }],
  });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /KeyError: 'time\.source'/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), { __type: "Event", "source.fqdn": "example.org" });
  assert.match(readFileSync(join(dir, "2020-10-20.rpz"), "utf8"), /^\$TTL 3600\n[^]*\nwww\.pw\.aparat/);
  assert.match(readFileSync(join(dir, "2020-10-21.rpz"), "utf8"), /^\$TTL 3600\n[^]*;\nexample\.com CNAME \.\nwww\.example\.com CNAME \.\n$/);
});

test("relative paths are under INTELMQ_ROOT_DIR; missing directories are created", async () => {
  const root = tmp();
  await runBot(bot, { rootDir: root, params: { ...HARNESS, file: "var/rpz/zone" }, input: [event()] });
  assert.ok(existsSync(join(root, "var", "rpz", "zone")));
});

test("an unusable directory: a fixed file stops the start, a formatted one fails (dumps) its event", async () => {
  const base = tmp();
  writeFileSync(join(base, "notadir"), "");
  await assert.rejects(createLibraryBot(bot, { params: { ...HARNESS, file: join(base, "notadir", "zone") } }), { code: "ENOTDIR", message: /notadir\/zone/ });
  const out = await runBot(bot, { params: { ...HARNESS, file: join(base, "notadir", "{event[classification.type]}"), format_filename: true }, input: [event()] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /ENOTDIR.*notadir/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), event());
});

test("rotation: a moved file is reopened with a new header; a write that keeps failing is dumped, never written later", async () => {
  const base = tmp();
  const dir = join(base, "zones");
  const file = join(dir, "zone");
  const b = await createLibraryBot(bot, { params: { ...HARNESS, file, cname: ".", error_max_retries: 2 } });
  try {
    await b.process([event({ "source.fqdn": "one.example" })]);
    renameSync(file, join(base, "zone.1"));
    await b.process([event({ "source.fqdn": "two.example" })]);
    assert.match(readFileSync(join(base, "zone.1"), "utf8"), /\none\.example CNAME \.\n/);
    assert.match(readFileSync(file, "utf8"), /^\$TTL 3600\n[^]*;\ntwo\.example CNAME \.\nwww\.two\.example CNAME \.\n$/);

    rmSync(dir, { recursive: true });
    writeFileSync(dir, ""); // the zone cannot be reopened: every flush fails
    const failed = await b.process([event({ "source.fqdn": "three.example" })]);
    assert.equal(failed.dumped, 1, "given up after the retries: dumped");
    assert.match(dumpReason(failed.dumps[0]!), /ENOTDIR|EEXIST/);
    assert.deepEqual(dumpedMessage(failed.dumps[0]!), event({ "source.fqdn": "three.example" }));
    rmSync(dir);
    mkdirSync(dir);
    await b.process([event({ "source.fqdn": "four.example" })]);
    const text = readFileSync(file, "utf8");
    assert.match(text, /^\$TTL 3600\n[^]*;\nfour\.example CNAME \.\nwww\.four\.example CNAME \.\n$/);
    assert.doesNotMatch(text, /three/, "the dumped event is not written later");
  } finally {
    await b.shutdown();
  }
});
