// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const FIRST = "# last updated 1450193702 (Tue Dec 15 15:35:02 2015 GMT)";
const report = (lines: string[]) => ({ __type: "Report", raw: b64([...lines, ""].join("\n")) });

test("cymru_full_bogons: networks and addresses, dated by the first line, raw with it", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([FIRST, "0.0.0.0/8", "// comment", "2001:db8::/32", "192.0.2.1"])] });
  const [a, b, c] = out.output._default!;
  assert.equal(out.output._default!.length, 3);
  assert.equal(a!["source.network"], "0.0.0.0/8");
  assert.equal(a!["time.source"], "2015-12-15T15:35:02+00:00");
  assert.equal(a!["classification.type"], "blacklist");
  assert.equal(unb64(a!.raw), `${FIRST}\n0.0.0.0/8`);
  assert.equal(b!["source.network"], "2001:db8::/32");
  assert.equal(c!["source.ip"], "192.0.2.1");
});

test("cymru_full_bogons: a line that is no network is dumped with the first line, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report([FIRST, "not-a-network", "10.0.0.0/8"])] });
  assert.deepEqual(out.output._default!.map((e) => e["source.network"]), ["10.0.0.0/8"]);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue: invalid value 'not-a-network' .* for key 'source\.network'/);
  assert.equal(dumpedRaw(out.dumps[0]!), `${FIRST}\nnot-a-network`);
  assert.equal(unb64(out.output._on_error![0]!.raw), `${FIRST}\nnot-a-network`);
});

test("cymru_full_bogons: without the date in the first line the report fails", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(["# last updated", "10.0.0.0/8"])] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /no "\(<date>\)"/);
  assert.equal(dumpedRaw(out.dumps[0]!), "# last updated\n10.0.0.0/8\n", "the whole report");
});

test("cymru_full_bogons: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "cymru_full_bogons");
});
