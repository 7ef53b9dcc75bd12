// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, runBot, startBot } from "../../../shared/runtime/index.js";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { BrokerUnavailableError, ErrorCode } from "../../../shared/errors/index.js";
import bot, { fnmatchRegex, splitChunks } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { testCollector } from "../lib/testing.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0, rate_limit: 0 };
const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64");

function dirWith(files: Record<string, string | Buffer>): string {
  const dir = tempDir("file-collector-");
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}

test("reads matching files into reports with feed.url and extra.file_name; others and empty files are left", async () => {
  const bytes = Buffer.from([0xff, 0x00, 0x41, 0x0a]);
  const dir = dirWith({ "a.txt": "Lorem ipsum\n", "b.txt": bytes, "c.csv": "x", "empty.txt": "" });
  const out = await runBot(bot, { params: { ...HARNESS, path: dir, postfix: ".txt", name: "Example feed" } });
  const reports = out.output._default!;
  assert.equal(reports.length, 2);
  assert.equal(reports[0]!.__type, "Report");
  assert.equal(unb64(reports[0]!.raw).toString(), "Lorem ipsum\n");
  assert.deepEqual(unb64(reports[1]!.raw), bytes);
  assert.equal(reports[0]!["feed.url"], `file://localhost${join(dir, "a.txt")}`);
  assert.equal(reports[0]!["extra.file_name"], "a.txt");
  assert.equal(reports[0]!["feed.name"], "Example feed");
  assert.equal(reports[0]!["feed.accuracy"], 100);
  assert.ok(existsSync(join(dir, "a.txt")));
});

test("delete_file removes what was read", async () => {
  const dir = dirWith({ "a.csv": "1.2.3.4\n", "keep.txt": "x" });
  const out = await runBot(bot, { params: { ...HARNESS, path: dir, delete_file: true } });
  assert.equal(out.output._default!.length, 1);
  assert.ok(!existsSync(join(dir, "a.csv")));
  assert.ok(existsSync(join(dir, "keep.txt")));
});

test("delete_file: files are deleted only after the broker confirmed the round's reports", async () => {
  const dir = dirWith({ "a.csv": "1\n", "b.csv": "2\n" });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let publishes = 0;
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  broker.queues.publish = async (queue, data, opts) => {
    publishes++;
    await gate;
    return publish(queue, data, opts);
  };
  const h = await startBot({ def: bot, botId: "files", broker, logger: log, params: { ...HARNESS, run_mode: "scheduled", path: dir, delete_file: true, destination_queues: ["q"] } });
  for (let i = 0; i < 400 && publishes < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(publishes, 2, "both files were read and their reports handed to the broker");
  assert.ok(existsSync(join(dir, "a.csv")) && existsSync(join(dir, "b.csv")), "kept while unconfirmed");
  release();
  assert.equal(await h.done, 0);
  assert.equal(await broker.queues.depth("q"), 2);
  assert.ok(!existsSync(join(dir, "a.csv")) && !existsSync(join(dir, "b.csv")));
  await broker.close();
});

test("delete_file: a round whose publish failed keeps its files", async () => {
  const dir = dirWith({ "a.csv": "1\n", "b.csv": "2\n" });
  const broker = new MemoryBroker();
  const publish = broker.queues.publish.bind(broker.queues);
  let n = 0;
  broker.queues.publish = async (queue, data, opts) => {
    if (++n === 2) { // the broker goes away before the second report is stored
      await broker.close();
      throw new BrokerUnavailableError("gone for the test");
    }
    return publish(queue, data, opts);
  };
  const h = await startBot({ def: bot, botId: "files", broker, logger: log, params: { ...HARNESS, run_mode: "scheduled", path: dir, delete_file: true, destination_queues: ["q"] } });
  await h.done;
  assert.equal(h.stats().failure, 1);
  assert.equal(n, 2);
  assert.ok(existsSync(join(dir, "a.csv")), "the first file's report was stored, but the round was not complete");
  assert.ok(existsSync(join(dir, "b.csv")));
});

/** A collector in library mode on `dir`; `afterFirst` runs once the first report is stored. */
async function withHook(dir: string, afterFirst: () => void) {
  const c = await testCollector(bot, { path: dir, delete_file: true, chunk_size: 2 });
  const queues = c.bot.broker.queues;
  const publish = queues.publish.bind(queues);
  let first = true;
  queues.publish = async (queue, data, opts) => {
    await publish(queue, data, opts);
    if (first) { first = false; afterFirst(); }
  };
  return c;
}
const rawsOf = (reports: Record<string, unknown>[]) => reports.map((r) => `${String(r["extra.file_name"])}:${unb64(r.raw).toString()}`);

test("delete_file: a file turning unreadable mid-round fails the round, nothing is deleted; the next round queues each report once, then deletes", async () => {
  const dir = dirWith({ "a.csv": "h\n1\n2\n", "b.csv": "h\n3\n", "c.csv": "h\n4\n" });
  const b = join(dir, "b.csv");
  // once a.csv's first chunk is stored, b.csv becomes a symlink to itself: it cannot be read
  const c = await withHook(dir, () => { unlinkSync(b); symlinkSync("b.csv", b); });
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(rawsOf(r1.reports), ["a.csv:h\n1\n", "a.csv:h\n2\n"], "a.csv was read whole and stored before b.csv failed");
    assert.deepEqual(readdirSync(dir).sort(), ["a.csv", "b.csv", "c.csv"], "no file deleted after a failed round");
    unlinkSync(b);
    writeFileSync(b, "h\n3\n");
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(rawsOf(r2.reports), ["b.csv:h\n3\n", "c.csv:h\n4\n"], "a.csv's reports are not queued twice");
    assert.equal(r2.duplicates, 0);
    assert.deepEqual(readdirSync(dir), [], "every file deleted once its reports were stored");
    assert.deepEqual((await c.round()).reports, []);
  } finally {
    await c.shutdown();
  }
});

test("delete_file: a file removed by someone else mid-round is skipped; the others are queued once and deleted", async () => {
  const dir = dirWith({ "a.csv": "h\n1\n", "b.csv": "h\n2\n", "c.csv": "h\n3\n" });
  const c = await withHook(dir, () => unlinkSync(join(dir, "b.csv")));
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.deepEqual(rawsOf(r.reports), ["a.csv:h\n1\n", "c.csv:h\n3\n"]);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    await c.shutdown();
  }
});

test("chunk_size splits at line ends and repeats the header line", async () => {
  const dir = dirWith({ "f.csv": "h1,h2\n1111\n2222\n3333\n" });
  const out = await runBot(bot, { params: { ...HARNESS, path: dir, chunk_size: 10 } });
  assert.deepEqual(out.output._default!.map((r) => unb64(r.raw).toString()), ["h1,h2\n1111\n2222\n", "h1,h2\n3333\n"]);
  const plain = await runBot(bot, { params: { ...HARNESS, path: dir, chunk_size: 5, chunk_replicate_header: false } });
  assert.deepEqual(plain.output._default!.map((r) => unb64(r.raw).toString()), ["h1,h2\n", "1111\n", "2222\n", "3333\n"]);
});

test("refuses a path that is not a directory, and deleting with an empty postfix", async () => {
  const dir = dirWith({ "x.csv": "x" });
  await assert.rejects(runBot(bot, { params: { ...HARNESS, path: join(dir, "x.csv") } }), { code: ErrorCode.InvalidArgument, message: /"path" is invalid, expected 'directory'/ });
  await assert.rejects(runBot(bot, { params: { ...HARNESS, path: dir, postfix: "", delete_file: true } }),
    { code: ErrorCode.ConfigurationError, message: /delete_file with an empty postfix would delete all files/ });
});

test("fnmatch patterns and chunk splitting helpers", () => {
  assert.ok(fnmatchRegex("*.csv").test("a.csv"));
  assert.ok(!fnmatchRegex("*.csv").test("a.csv.bak"));
  assert.ok(fnmatchRegex("*report-[0-9]?.txt").test("x-report-1a.txt"));
  assert.ok(fnmatchRegex("*[!a].txt").test("b.txt"));
  assert.deepEqual([...splitChunks(Buffer.from("aaaaaaaaaa\nb\n"), 4)].map(String), ["aaaaaaaaaa\n", "b\n"]);
});
