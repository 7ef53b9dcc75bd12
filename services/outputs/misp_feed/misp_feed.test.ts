// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot, { parseRelative } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "feed.name": "Feed", "extra.k": "v" });
const json = (f: string) => JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;
type Ev = { uuid: string; info: string; Orgc: { name: string }; Object: { name: string; uuid: string; Attribute: { object_relation: string; type: string; value: string }[] }[] };

test("the feed: an event file with one intelmq_event object per event, manifest.json, hashes.csv, .current", async () => {
  const dir = tempDir("misp-feed-");
  const out = await runBot(bot, { params: { ...HARNESS, output_dir: dir, misp_org_name: "CERT", misp_org_uuid: "5d0ff1a0-0000-4000-8000-000000000001" }, input: [ev("192.0.2.1"), ev("192.0.2.2")] });
  assert.equal(out.dumped, 0);
  const files = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "manifest.json");
  assert.equal(files.length, 1);
  const e = (json(join(dir, files[0]!)) as { Event: Ev }).Event;
  assert.equal(`${e.uuid}.json`, files[0]);
  assert.match(e.info, /^IntelMQ event \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} - \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  assert.equal(e.Orgc.name, "CERT");
  assert.equal(e.Object.length, 2);
  const attrs = e.Object[0]!.Attribute.map((a) => [a.object_relation, a.type, a.value]);
  assert.deepEqual(attrs, [["source.ip", "ip-src", "192.0.2.1"], ["feed.name", "text", "Feed"], ["extra", "text", '{"k": "v"}']]);
  const manifest = json(join(dir, "manifest.json")) as Record<string, { info: string }>;
  assert.deepEqual(Object.keys(manifest), [e.uuid]);
  assert.equal(manifest[e.uuid]!.info, e.info);
  const md5 = createHash("md5").update("192.0.2.1").digest("hex");
  assert.ok(readFileSync(join(dir, "hashes.csv"), "utf8").split("\n").includes(`${md5},${e.uuid}`));
  assert.equal(readFileSync(join(dir, ".current"), "utf8"), join(dir, files[0]!));
});

test("a restarted bot goes on with the current event; an expired one is replaced by a new event", async () => {
  const dir = tempDir("misp-feed-");
  await runBot(bot, { params: { ...HARNESS, output_dir: dir }, input: [ev("192.0.2.1")] });
  await runBot(bot, { params: { ...HARNESS, output_dir: dir }, input: [ev("192.0.2.2")] });
  let files = readdirSync(dir).filter((f) => /^[0-9a-f-]{36}\.json$/.test(f));
  assert.equal(files.length, 1);
  assert.equal(((json(join(dir, files[0]!)) as { Event: Ev }).Event).Object.length, 2);
  // The current event's interval ended (its end rewritten into the past): the next event starts a new one.
  const file = join(dir, files[0]!);
  const doc = json(file) as { Event: Ev };
  doc.Event.info = "IntelMQ event 2020-01-01T00:00:00.000000 - 2020-01-01T01:00:00.000000";
  writeFileSync(file, JSON.stringify(doc));
  await runBot(bot, { params: { ...HARNESS, output_dir: dir }, input: [ev("192.0.2.3")] });
  files = readdirSync(dir).filter((f) => /^[0-9a-f-]{36}\.json$/.test(f));
  assert.equal(files.length, 2);
  assert.equal(Object.keys(json(join(dir, "manifest.json"))).length, 2);
});

test("an input written again (a retried flush) replaces its objects instead of adding them", async () => {
  const dir = tempDir("misp-feed-");
  const b = await createLibraryBot(bot, { params: { ...HARNESS, output_dir: dir } });
  try {
    await b.process([ev("192.0.2.1")]);
  } finally {
    await b.shutdown();
  }
  const impl = await bot.create(bot.params.parse({ output_dir: dir }), { rootDir: dir, log: { warn() {}, error() {} } } as never);
  const input = { key: "q:7:abc", queue: "q", seq: 7 };
  const { Event } = await import("../../../shared/sdk/index.js");
  for (let round = 0; round < 2; round++) {
    await impl.export(new Event({ "source.ip": "192.0.2.9" }));
    await impl.flush!(input);
  }
  const [f] = readdirSync(dir).filter((x) => /^[0-9a-f-]{36}\.json$/.test(x));
  assert.equal(((json(join(dir, f!)) as { Event: Ev }).Event).Object.length, 2);
});

test("interval_event as IntelMQ's parse_relative", () => {
  assert.equal(parseRelative("1 hour"), 60);
  assert.equal(parseRelative("2 days"), 2880);
  assert.equal(parseRelative("30 minutes"), 30);
  assert.throws(() => parseRelative("soon"));
});
