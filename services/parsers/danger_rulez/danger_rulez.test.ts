// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const HEAD = "# IP\t\t\t# Last Reported\t\t\tCount\tID";

test("danger_rulez: address and last report time (UTC) of each line", async () => {
  const line = "192.0.2.48\t\t# 2021-03-10 08:12:03\t\t12\t2201973";
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64(`${HEAD}\n${line}\n`) }] });
  const [e] = out.output._default!;
  assert.equal(e!["source.ip"], "192.0.2.48");
  assert.equal(e!["time.source"], "2021-03-10T08:12:03+00:00");
  assert.equal(e!["classification.type"], "brute-force");
  assert.equal(Buffer.from(String(e!.raw), "base64").toString(), line);
  assert.equal(out.output._default!.length, 1);
});

test("danger_rulez: a line without timestamp or with a bad address is dumped with the reason", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("198.18.0.89\t\t43\t1097987\nnope\t# 2016-11-05 07:01:15\n198.18.0.90\t# 2016-11-05 07:01:15") }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["198.18.0.90"]);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /danger_rulez: no timestamp/);
  assert.equal(dumpedRaw(out.dumps[0]!), "198.18.0.89\t\t43\t1097987");
  assert.match(dumpReason(out.dumps[1]!), /InvalidValue.*'nope'.*source\.ip/);
});

test("danger_rulez: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "danger_rulez");
});
