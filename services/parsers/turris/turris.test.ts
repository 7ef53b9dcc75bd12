// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (text: string) => ({
  __type: "Report", "feed.name": "Turris Greylist", "time.observation": "2024-01-02T00:00:00+00:00", raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("turris: an event per brute-force or scan tag, other tags skipped; raw is the header and the record", async () => {
  const text = "# terms of use\nAddress,Tags\n192.0.2.1,\"ftp,haas,port_scan,smtp\"\n192.0.2.2,haas_logged\n";
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  const events = out.output._default!;
  assert.deepEqual(events.map((e) => [e["protocol.application"], e["classification.type"], e["destination.port"]]), [
    ["ftp", "brute-force", 21], [undefined, "scanner", undefined], ["smtp", "brute-force", undefined],
  ]);
  for (const e of events) {
    assert.equal(e["source.ip"], "192.0.2.1");
    assert.equal(unb64(e.raw), "Address,Tags\n192.0.2.1,\"ftp,haas,port_scan,smtp\"");
  }
  assert.equal(events[0]!["protocol.transport"], "tcp");
  assert.equal(out.dumped, 0, "the record of HaaS tags only is skipped, not failed");
});

test("turris: a record with an invalid address or too many fields is dumped, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("Address,Tags\r\nnot-an-ip,http\r\n192.0.2.3,telnet,extra\r\n192.0.2.4,telnet\r\n")] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.4"]);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /not-an-ip/);
  assert.equal(dumpedRaw(out.dumps[0]!), "Address,Tags\r\nnot-an-ip,http");
  assert.match(dumpReason(out.dumps[1]!), /turris: the record has 3 fields, the header 2/);
});

test("turris: a report whose header lacks Address or Tags is dumped whole, naming the parser", async () => {
  const text = "<html><body>Service unavailable</body></html>\n";
  const out = await runBot(bot, { params: HARNESS, input: [report(text)] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /turris: the header row .* lacks the column\(s\) Address, Tags/);
  assert.equal(dumpedRaw(out.dumps[0]!), text);
});

test("turris: the sample report (fixtures/sample.json) gives events for every record and dumps nothing", async () => {
  await assertSample(bot, "turris");
});
