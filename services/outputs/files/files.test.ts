// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const tmp = () => tempDir("files-output-");
const OUTPUT = JSON.stringify({ asdf: "ghjk" });
const input = { __type: "Event", output: OUTPUT };

test("single_key output: the file holds the JSON text of the field, nothing else (IntelMQ's test)", async () => {
  const incoming = join(tmp(), "incoming");
  const out = await runBot(bot, { params: { ...HARNESS, hierarchical_output: true, dir: incoming, tmp: incoming, single_key: "output", suffix: "" }, input: [input] });
  assert.equal(out.dumped, 0);
  const names = readdirSync(incoming);
  assert.equal(names.length, 1);
  assert.equal(readFileSync(join(incoming, names[0]!), "utf8"), OUTPUT);
});

test("whole event: one file per event, named host.pid.time.device.inode + suffix, moved out of tmp", async () => {
  const base = tmp();
  const dir = join(base, "incoming"), tmpDir = join(base, "tmp");
  const out = await runBot(bot, {
    params: { ...HARNESS, dir, tmp: tmpDir },
    input: [input, { __type: "Event", "source.ip": "192.0.2.1", "feed.name": "Ünïcode", raw: Buffer.from("x").toString("base64") }],
  });
  assert.equal(out.dumped, 0);
  assert.deepEqual(readdirSync(tmpDir), []);
  const names = readdirSync(dir).sort();
  assert.equal(names.length, 2);
  const pattern = new RegExp(`^${hostname().replace(/\./g, "\\.")}\\.${process.pid}\\.\\d+\\.\\d{6}\\.\\d+\\.\\d+\\.json$`);
  for (const n of names) assert.match(n, pattern);
  const texts = names.map((n) => readFileSync(join(dir, n), "utf8")).sort();
  assert.deepEqual(texts, ['{"feed.name": "Ünïcode", "source.ip": "192.0.2.1"}', `{"output": ${JSON.stringify(OUTPUT)}}`].sort());
});

test("relative and /opt/intelmq paths are under INTELMQ_ROOT_DIR; missing directories are created", async () => {
  const root = tmp();
  await runBot(bot, { rootDir: root, params: { ...HARNESS, dir: "out/incoming", tmp: "/opt/intelmq/var/tmp" }, input: [input] });
  assert.equal(readdirSync(join(root, "out", "incoming")).length, 1);
  assert.ok(existsSync(join(root, "var", "tmp")));
});

test("a dir that is a file stops the start (IntelMQ: FileExistsError)", async () => {
  const base = tmp();
  const incoming = join(base, "incoming");
  writeFileSync(incoming, "");
  await assert.rejects(createLibraryBot(bot, { params: { ...HARNESS, dir: incoming, tmp: incoming } }), /not a directory|EEXIST/);
});

test("an unwritable tmp fails the event: it is dumped, not lost silently, and the next one is written", async () => {
  const base = tmp();
  const dir = join(base, "incoming"), tmpDir = join(base, "tmp");
  const b = await createLibraryBot(bot, { params: { ...HARNESS, dir, tmp: tmpDir } });
  try {
    rmSync(tmpDir, { recursive: true });
    writeFileSync(tmpDir, ""); // not a directory: creating files in it fails, even as root
    const failed = await b.process([input]);
    assert.equal(failed.dumped, 1);
    assert.match(dumpReason(failed.dumps[0]!), /ENOTDIR/);
    assert.deepEqual(dumpedMessage(failed.dumps[0]!), input);
    assert.deepEqual(readdirSync(dir), []);
    rmSync(tmpDir);
    mkdirSync(tmpDir);
    const ok = await b.process([input]);
    assert.equal(ok.dumped, 0);
    assert.equal(readdirSync(dir).length, 1);
  } finally {
    await b.shutdown();
  }
});

test("text UTF-8 cannot encode (a lone surrogate) fails the event and leaves no file", async () => {
  const incoming = join(tmp(), "incoming");
  const out = await runBot(bot, { params: { ...HARNESS, dir: incoming, tmp: incoming, single_key: "output", suffix: "" }, input: [{ __type: "Event", output: JSON.stringify("a\ud800b") }] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /'utf-8' codec can't encode/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), { __type: "Event", output: JSON.stringify("a\ud800b") });
  assert.deepEqual(readdirSync(incoming), []);
});
