// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };

test("ci_army: one blacklist event per address, comments and empty lines left out", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", "feed.name": "CI Army", raw: b64("# list\n10.0.0.9\n\n192.168.0.8\n") }] });
  const evs = out.output._default!;
  assert.deepEqual(evs.map((e) => e["source.ip"]), ["10.0.0.9", "192.168.0.8"]);
  assert.ok(evs.every((e) => e["classification.type"] === "blacklist" && e["feed.name"] === "CI Army"));
  assert.equal(Buffer.from(String(evs[0]!.raw), "base64").toString(), "10.0.0.9");
  assert.equal(out.dumped, 0);
});

test("ci_army: a line that is no address is dumped alone, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("10.0.0.9\nnot an ip\n10.0.0.10") }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["10.0.0.9", "10.0.0.10"]);
  assert.equal(out.dumped, 1);
  assert.equal(dumpedRaw(out.dumps[0]!), "not an ip");
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*source\.ip/);
});

test("ci_army: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "ci_army");
});
