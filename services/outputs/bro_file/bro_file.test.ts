// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot, { BRO_HEADER } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const tmp = () => tempDir("bro-output-");
const INPUT = {
  __type: "Event", "classification.type": "infected-system", "feed.url": "http://feed.url", "feed.accuracy": 80.0, "source.asn": 64496,
  "extra.elastic_id": "elasticid1", "source.ip": "192.0.2.1", "feed.name": "Example Feed", "source.url": "http://192.0.2.1",
};
const NO_INDICATORS = {
  __type: "Event", "classification.type": "infected-system", "feed.url": "http://feed.url", "feed.accuracy": 80.0,
  "extra.elastic_id": "elasticid2", "source.asn": 64496, "feed.name": "Example Feed",
};

test("one line per indicator after the header (IntelMQ's test)", async () => {
  const file = join(tmp(), "intel");
  writeFileSync(file, "");
  const out = await runBot(bot, { params: { ...HARNESS, hierarchical_output: true, file }, input: [INPUT] });
  assert.equal(out.dumped, 0);
  assert.equal(readFileSync(file, "utf8"),
    "#fields\tindicator\tindicator_type\tmeta.desc\tmeta.cif_confidence\tmeta.source\n"
    + "192.0.2.1\tIntel::ADDR\tinfected-system\t80\t\nhttp://192.0.2.1\tIntel::URL\tinfected-system\t80\t\n");
});

test("an event without indicators writes nothing and logs the first missing type (IntelMQ's test)", async () => {
  const file = join(tmp(), "intel");
  const lines: string[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(s); } });
  const out = await runBot(bot, { log, params: { ...HARNESS, logging_level: "DEBUG", file }, input: [NO_INDICATORS] });
  assert.equal(out.dumped, 0);
  assert.equal(readFileSync(file, "utf8"), BRO_HEADER);
  assert.ok(lines.some((l) => JSON.parse(l).msg === "source.ipEvent did not have Bro indicator types."));
});

test("desc apt from extra.tags, confidence truncated, source from extra.orgc, else feed.provider", async () => {
  const file = join(tmp(), "intel");
  await runBot(bot, {
    params: { ...HARNESS, file },
    input: [
      { ...NO_INDICATORS, "source.fqdn": "apt.example", "extra.tags": ["apt", "x"], "extra.orgc": "Org C", "feed.provider": "Prov", "feed.accuracy": 55.9 },
      { ...NO_INDICATORS, "source.fqdn": "tagged.example", "extra.tags": ["aptitude"], "feed.provider": "Prov" },
      { ...NO_INDICATORS, "source.fqdn": "text.example", "extra.tags": "some apt text" },
    ],
  });
  assert.equal(readFileSync(file, "utf8"), BRO_HEADER
    + "apt.example\tIntel::DOMAIN\tapt\t55\tOrg C\n"
    + "tagged.example\tIntel::DOMAIN\tinfected-system\t80\tProv\n"
    + "text.example\tIntel::DOMAIN\tapt\t80\t\n");
});

test("a file whose first line is not the header gets it appended (as IntelMQ); one that has it gets nothing", async () => {
  const dir = tmp();
  const other = join(dir, "other"), good = join(dir, "good");
  writeFileSync(other, "something else\n");
  writeFileSync(good, BRO_HEADER + "192.0.2.9\tIntel::ADDR\tscanner\t10\t\n");
  await runBot(bot, { params: { ...HARNESS, file: other }, input: [INPUT] });
  await runBot(bot, { params: { ...HARNESS, file: good }, input: [{ ...NO_INDICATORS, "source.ip": "192.0.2.2" }] });
  assert.equal(readFileSync(other, "utf8"), "something else\n" + BRO_HEADER
    + "192.0.2.1\tIntel::ADDR\tinfected-system\t80\t\nhttp://192.0.2.1\tIntel::URL\tinfected-system\t80\t\n");
  assert.equal(readFileSync(good, "utf8"), BRO_HEADER + "192.0.2.9\tIntel::ADDR\tscanner\t10\t\n192.0.2.2\tIntel::ADDR\tinfected-system\t80\t\n");
});

test("missing classification.type or feed.accuracy fails the event: dumped, nothing written", async () => {
  const file = join(tmp(), "intel");
  const { "classification.type": _c, ...noType } = INPUT;
  const { "feed.accuracy": _a, ...noAccuracy } = INPUT;
  const out = await runBot(bot, { params: { ...HARNESS, file }, input: [noType, noAccuracy] });
  assert.equal(out.dumped, 2);
  assert.deepEqual(out.dumps.map(dumpedMessage), [noType, noAccuracy]);
  assert.match(dumpReason(out.dumps[0]!), /classification\.type/);
  assert.match(dumpReason(out.dumps[1]!), /feed\.accuracy/);
  assert.equal(readFileSync(file, "utf8"), BRO_HEADER);
});

test("format_filename and relative paths under INTELMQ_ROOT_DIR; an unusable directory fails the start or the event", async () => {
  const root = tmp();
  await runBot(bot, { rootDir: root, params: { ...HARNESS, file: "intel/{event[time.source]:%Y%m%d}.dat", format_filename: true },
    input: [{ ...INPUT, "time.source": "2021-02-03T04:05:06.123+00:00" }] });
  assert.ok(readFileSync(join(root, "intel", "20210203.dat"), "utf8").startsWith(BRO_HEADER + "192.0.2.1\t"));
  writeFileSync(join(root, "notadir"), "");
  await assert.rejects(createLibraryBot(bot, { rootDir: root, params: { ...HARNESS, file: "notadir/intel" } }), { code: "ENOTDIR", message: /notadir\/intel/ });
  const out = await runBot(bot, { rootDir: root, params: { ...HARNESS, file: "notadir/{event[feed.name]}", format_filename: true }, input: [INPUT] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /ENOTDIR.*notadir/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), INPUT);
});

test("rotation: a moved file is reopened with the header; a write that keeps failing is dumped, never written later", async () => {
  const base = tmp();
  const dir = join(base, "intel");
  const file = join(dir, "intel.dat");
  const b = await createLibraryBot(bot, { params: { ...HARNESS, file, error_max_retries: 2 } });
  try {
    await b.process([{ ...NO_INDICATORS, "source.ip": "192.0.2.1" }]);
    renameSync(file, join(base, "intel.1"));
    await b.process([{ ...NO_INDICATORS, "source.ip": "192.0.2.2" }]);
    assert.equal(readFileSync(join(base, "intel.1"), "utf8"), BRO_HEADER + "192.0.2.1\tIntel::ADDR\tinfected-system\t80\t\n");
    assert.equal(readFileSync(file, "utf8"), BRO_HEADER + "192.0.2.2\tIntel::ADDR\tinfected-system\t80\t\n");

    rmSync(dir, { recursive: true });
    writeFileSync(dir, ""); // the file cannot be reopened: every flush fails
    const failed = await b.process([{ ...NO_INDICATORS, "source.ip": "192.0.2.3" }]);
    assert.equal(failed.dumped, 1, "given up after the retries: dumped");
    assert.match(String(failed.dumps[0]!.traceback), /ENOTDIR|EEXIST/);
    assert.match(failed.dumps[0]!.message, /192\.0\.2\.3/);
    rmSync(dir);
    mkdirSync(dir);
    await b.process([{ ...NO_INDICATORS, "source.ip": "192.0.2.4" }]);
    assert.equal(readFileSync(file, "utf8"), BRO_HEADER + "192.0.2.4\tIntel::ADDR\tinfected-system\t80\t\n", "the dumped event is not written later");
  } finally {
    await b.shutdown();
  }
});
