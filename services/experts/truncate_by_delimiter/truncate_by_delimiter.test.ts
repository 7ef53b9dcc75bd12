// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { truncateByDelimiter } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("truncateByDelimiter: cut after the first delimiter until short enough", () => {
  assert.equal(truncateByDelimiter("a.b.c.example.com", ".", 11), "example.com");
  assert.equal(truncateByDelimiter("a.b.c.example.com", ".", 100), "a.b.c.example.com");
  assert.equal(truncateByDelimiter("nodelimiterhere", ".", 3), "nodelimiterhere", "no delimiter left: kept as it is");
  assert.equal(truncateByDelimiter("x::y::zz", "::", 2), "zz", "a delimiter of several characters");
  assert.equal(truncateByDelimiter("ä.ö.ü", ".", 3), "ö.ü", "lengths in characters");
});

test("truncate_by_delimiter: shortens the field of the event", async () => {
  const long = `${"sub.".repeat(60)}example.com`;
  const out = await runBot(bot, { params: {}, input: [ev({ "source.fqdn": long }), ev({ "source.ip": "192.0.2.1" })] });
  const [a, b] = out.output._default!;
  assert.ok(String(a!["source.fqdn"]).length <= 200);
  assert.ok(String(a!["source.fqdn"]).endsWith("example.com"));
  assert.deepEqual(b, ev({ "source.ip": "192.0.2.1" }), "events without the field pass unchanged");
  const custom = await runBot(bot, { params: { field: "extra.path", delimiter: "/", max_length: "5" }, input: [ev({ "extra.path": "a/b/c/file" })] });
  assert.equal(custom.output._default![0]!["extra.path"], "file");
});

test("truncate_by_delimiter: an empty delimiter is refused at start, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { delimiter: "" }, input: [ev({})] }), (err: Error) => /delimiter/.test(err.message));
});
