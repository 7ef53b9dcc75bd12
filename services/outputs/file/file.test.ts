// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, renameSync, existsSync } from "node:fs";
import { join } from "node:path";
import { PyDateTime, createLibraryBot, pyFormat, runBot, strftime, ErrorCode } from "../../../shared/sdk/index.js";
import bot, { encodeErrors } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const tmp = () => tempDir("file-output-");
const event = (extra: Record<string, unknown> = {}) => ({
  __type: "Event", "source.ip": "192.0.2.1", "feed.name": "Ünïcode feed", "feed.accuracy": 100, "time.observation": "2024-09-16T10:00:00+00:00",
  "time.source": "2024-09-01T05:06:07+00:00", "classification.type": "phishing", raw: Buffer.from("line\n").toString("base64"), ...extra,
});

test("one JSON line per event: sorted keys, raw dropped, no ASCII escaping; parent directories created", async () => {
  const file = join(tmp(), "a", "b", "events.txt");
  await runBot(bot, { params: { ...HARNESS, file }, input: [event(), event({ "source.ip": "192.0.2.2", "extra.n": { k: [1] } })] });
  const lines = readFileSync(file, "utf8").split("\n");
  assert.equal(lines.length, 3);
  assert.equal(lines[2], "");
  assert.equal(lines[0], '{"classification.type": "phishing", "feed.accuracy": 100.0, "feed.name": "Ünïcode feed", "source.ip": "192.0.2.1", "time.observation": "2024-09-16T10:00:00+00:00", "time.source": "2024-09-01T05:06:07+00:00"}');
  assert.deepEqual(JSON.parse(lines[1]!)["extra.n"], { k: [1] });
});

test("hierarchical_output, message_with_type, keep_raw_field, single_key", async () => {
  const dir = tmp();
  const f1 = join(dir, "h.txt");
  await runBot(bot, { params: { ...HARNESS, file: f1, hierarchical_output: true, message_with_type: true, keep_raw_field: true }, input: [event()] });
  const h = JSON.parse(readFileSync(f1, "utf8"));
  assert.equal(h.source.ip, "192.0.2.1");
  assert.equal(h.__type, "Event");
  assert.equal(h.raw, Buffer.from("line\n").toString("base64"));
  const f2 = join(dir, "raw.txt");
  await runBot(bot, { params: { ...HARNESS, file: f2, single_key: "raw" }, input: [event()] });
  assert.equal(readFileSync(f2, "utf8"), "line\n\n");
  const f3 = join(dir, "ip.txt");
  await runBot(bot, { params: { ...HARNESS, file: f3, single_key: "source.ip" }, input: [event()] });
  assert.equal(readFileSync(f3, "utf8"), "192.0.2.1\n");
});

test("an empty event is {} (IntelMQ's own test)", async () => {
  const file = join(tmp(), "e.txt");
  await runBot(bot, { params: { ...HARNESS, file, hierarchical_output: true }, input: [{ __type: "Event" }] });
  assert.equal(readFileSync(file, "utf8"), "{}\n");
});

test("format_filename: fields and strftime of time.source; a missing field fails the event", async () => {
  const dir = tmp();
  const out = await runBot(bot, {
    params: { ...HARNESS, file: join(dir, "{event[time.source]:%Y-%m-%d}", "{event[classification.type]}.txt"), format_filename: true },
    input: [event(), event({ "classification.type": "scanner" }), { __type: "Event", "source.ip": "192.0.2.9" }],
  });
  assert.ok(existsSync(join(dir, "2024-09-01", "phishing.txt")));
  assert.ok(existsSync(join(dir, "2024-09-01", "scanner.txt")));
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /KeyError: 'time\.source'/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), { __type: "Event", "source.ip": "192.0.2.9" });
});

test("the file is reopened after it was moved away (log rotation)", async () => {
  const dir = tmp();
  const file = join(dir, "events.txt");
  const b = await createLibraryBot(bot, { params: { ...HARNESS, file } });
  try {
    await b.process([event()]);
    renameSync(file, file + ".1");
    await b.process([event({ "source.ip": "192.0.2.77" })]);
  } finally {
    await b.shutdown();
  }
  assert.match(readFileSync(file + ".1", "utf8"), /192\.0\.2\.1"/);
  assert.match(readFileSync(file, "utf8"), /192\.0\.2\.77/);
});

test("/opt/intelmq paths map to the project's root", async () => {
  const root = tmp();
  await runBot(bot, { rootDir: root, params: { ...HARNESS, file: "/opt/intelmq/var/lib/bots/file-output/events.txt" }, input: [event()] });
  assert.ok(existsSync(join(root, "var", "lib", "bots", "file-output", "events.txt")));
});

test("Python format and strftime helpers; encoding error modes", () => {
  const dt = PyDateTime.fromIso("2024-09-01T05:06:07.000120+00:00")!;
  assert.equal(strftime(dt, "%Y%m%d %H:%M:%S.%f %j %a %b %Z %z %%"), "20240901 05:06:07.000120 245 Sun Sep UTC +0000 %");
  assert.equal(String(dt), "2024-09-01 05:06:07.000120+00:00");
  assert.equal(pyFormat("{event[a]}-{{x}}-{event[b]!r}", { event: { a: 1.5, b: "q" } }), "1.5-{x}-'q'");
  assert.throws(() => pyFormat("{event[c]}", { event: {} }), /KeyError/);
  assert.equal(encodeErrors("ok", "strict"), "ok");
  assert.throws(() => encodeErrors("a\ud800b", "strict"), { code: ErrorCode.InvalidValue, message: /'utf-8' codec can't encode a surrogate/ });
  assert.equal(encodeErrors("a\ud800b", "replace"), "a?b");
  assert.equal(encodeErrors("a\ud800b", "ignore"), "ab");
  assert.equal(encodeErrors("a\ud800b😀", "backslashreplace"), "a\\ud800b😀");
});

test("single_key: false (IntelMQ's default) writes whole events", async () => {
  const file = join(tmp(), "events.txt");
  await runBot(bot, { params: { ...HARNESS, file, single_key: false }, input: [event()] });
  assert.equal(JSON.parse(readFileSync(file, "utf8"))["source.ip"], "192.0.2.1");
});

test("format_filename: an event's fields cannot lead out of the directory (feed.name ../x); a relative file may not leave the root", async () => {
  const dir = tmp();
  const out = await runBot(bot, {
    params: { ...HARNESS, file: join(dir, "{event[feed.name]}.txt"), format_filename: true },
    input: [event({ "feed.name": "../escaped" }), event({ "feed.name": ".." }), event({ "feed.name": "a/../../b" })],
  });
  assert.equal(out.dumped, 0);
  assert.deepEqual(readdirSync(dir).sort(), [".._escaped.txt", "__.txt", "a_.._.._b.txt"].sort());
  assert.ok(!existsSync(join(dir, "..", "escaped.txt")));
  const root = tmp();
  await assert.rejects(runBot(bot, { rootDir: root, params: { ...HARNESS, file: "../outside.txt" }, input: [event()] }), /relative path inside INTELMQ_ROOT_DIR/);
});
