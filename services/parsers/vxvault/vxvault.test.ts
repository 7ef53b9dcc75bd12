// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";

const LIST = "<pre>\nVX Vault last 100 Links\nMon, 17 Aug 2015 14:36:19 +0000\n\nhttp://example.com/bad/program.exe\nhttp://192.0.2.3:8080/x.exe\n<!-- comment -->\n";

test("vxvault: header date as time.source, host as fqdn or ip, port", async () => {
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw: Buffer.from(LIST).toString("base64") }] });
  const [a, b] = out.output._default!;
  assert.equal(out.output._default!.length, 2, "lines that are no URL are skipped");
  assert.equal(a!["source.fqdn"], "example.com");
  assert.equal(a!["time.source"], "2015-08-17T14:36:19+00:00");
  assert.equal(a!["classification.type"], "malware-distribution");
  assert.equal(b!["source.ip"], "192.0.2.3");
  assert.equal(b!["source.port"], 8080);
  assert.equal(b!["source.url"], "http://192.0.2.3:8080/x.exe");
});

test("vxvault: a line that is no URL is dumped with the reason, HTML markup and the header are skipped", async () => {
  const list = "<pre>\nVX Vault last 100 Links\nMon, 17 Aug 2015 14:36:19 +0000\n\nhttp://example.com/a.exe\n\x01garbage ;-)\nhttp://example.net/b.exe\n</pre>\n";
  const out = await runBot(bot, { params: {}, input: [{ __type: "Report", raw: Buffer.from(list).toString("base64") }] });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["example.com", "example.net"]);
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /ValueError: vxvault: not a URL: "\\u0001garbage ;-\)"/);
  // dumped after the header, as IntelMQ rebuilds a failed line
  const raw = Buffer.from(JSON.parse(out.dumps[0]!.message).raw, "base64").toString();
  assert.equal(raw, "<pre>\nVX Vault last 100 Links\nMon, 17 Aug 2015 14:36:19 +0000\n\x01garbage ;-)");
});

test("vxvault: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "vxvault");
});
