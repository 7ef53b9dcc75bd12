// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (file: string, text: string) => ({
  __type: "Report", "feed.name": "BlockList.de", "feed.url": `https://lists.blocklist.de/lists/${file}`, raw: b64(text),
});

test("blocklistde: the list's file name sets classification, protocol and description", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("imap.txt", "192.0.2.4\n198.51.100.80\n")] });
  const evs = out.output._default!;
  assert.deepEqual(evs.map((e) => e["source.ip"]), ["192.0.2.4", "198.51.100.80"]);
  assert.equal(evs[0]!["classification.type"], "ids-alert");
  assert.equal(evs[0]!["protocol.application"], "imap");
  assert.equal(evs[0]!["event_description.text"], "IP reported as having run attacks on the service IMAP, SASL, POP3");
  assert.equal(Buffer.from(String(evs[1]!.raw), "base64").toString(), "198.51.100.80");
});

test("blocklistde: a list not known by name is a blacklist; bruteforcelogin is brute-force", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("newlist.txt", "192.0.2.9"), report("bruteforcelogin.txt", "192.0.2.10")] });
  const [a, b] = out.output._default!;
  assert.equal(a!["classification.type"], "blacklist");
  assert.equal(a!["protocol.application"], undefined);
  assert.equal(b!["classification.type"], "brute-force");
});

test("blocklistde: a line that is no IP address is dumped alone", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("ssh.txt", "192.0.2.4\n<html>oops\n192.0.2.5")] });
  assert.deepEqual(out.output._default!.map((e) => e["source.ip"]), ["192.0.2.4", "192.0.2.5"]);
  assert.equal(out.dumped, 1);
  assert.equal(dumpedRaw(out.dumps[0]!), "<html>oops");
  assert.match(dumpReason(out.dumps[0]!), /InvalidValue.*source\.ip/);
});

test("blocklistde: without feed.url the list is unknown, every line fails with the reason", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [{ __type: "Report", raw: b64("192.0.2.4") }] });
  assert.equal(out.output._default!.length, 0);
  assert.match(dumpReason(out.dumps[0]!), /blocklistde: the report has no feed\.url/);
});

test("blocklistde: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "blocklistde");
});
