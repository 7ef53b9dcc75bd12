// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { isIPv4Network } from "./network.js";
import { assertSample, loadSample, sampleReport, sampleText } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const S = loadSample("fireeye");
const TEXT = sampleText(S);

test("fireeye: the hashes give a malware event; the network indicators a malware-distribution event", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport(S, TEXT)] });
  const [m, n] = out.output._default!;
  assert.equal(out.output._default!.length, 2);
  assert.equal(m!["classification.type"], "malware");
  assert.equal(m!["malware.hash.md5"], "0123456789abcdef0123456789abcdef");
  assert.equal(m!["malware.hash.sha256"], "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  assert.equal(unb64(m!.raw), TEXT);
  assert.equal(n!["classification.type"], "malware-distribution");
  assert.equal(n!["malware.hash.md5"], "0123456789abcdef0123456789abcdef");
  assert.equal(n!["destination.urlpath"], "/gate/index.php");
  assert.equal(n!["destination.ip"], "192.0.2.80");
  assert.equal(n!["destination.fqdn"], "c2.example.com");
  assert.equal(n!["destination.url"], "http://c2.example.com/gate/index.php");
  assert.equal(n!["destination.port"], 8080);
  assert.equal(unb64(n!.raw), TEXT);
});

test("fireeye: a host that is no IPv4 address is left out", () => {
  assert.equal(isIPv4Network("192.0.2.80"), true);
  assert.equal(isIPv4Network("192.0.2.0/24"), true);
  assert.equal(isIPv4Network("192.0.2.1/24"), false);
  assert.equal(isIPv4Network("shop.example.com"), false);
  assert.equal(isIPv4Network("256.0.0.1"), false);
});

test("fireeye: an alert without indicators gives nothing; no XML or a bad port dumps the report", async () => {
  const noIoc = TEXT.replace(/<criteria>[\s\S]*<\/criteria>/, "<criteria/>");
  const badPort = TEXT.replace("<Content type=\"int\">8080</Content>", "<Content type=\"int\">http</Content>");
  const out = await runBot(bot, { params: HARNESS, input: [sampleReport(S, noIoc), sampleReport(S, "<OpenIOC>"), sampleReport(S, badPort)] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /fireeye: the report is not XML/);
  assert.match(dumpReason(out.dumps[1]!), /fireeye: the remote port "http" is no integer/);
  assert.equal(dumpedRaw(out.dumps[1]!), badPort);
});

test("fireeye: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "fireeye");
});
