// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (body: unknown) => ({
  __type: "Report", "feed.name": "HIBP Enterprise", "time.observation": "2019-10-01T00:00:00+00:00",
  raw: Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const BREACH = { Name: "ExampleShop", AddedDate: "2019-09-30T17:15:11Z", BreachDate: "2018-12-13", PwnCount: 5 };

test("hibp: a real breach callback gives one event per domain address, with the breach's time", async () => {
  const body = { Domain: "example.com", DomainEmails: ["b@example.com", "a@example.com"], Breach: BREACH };
  const out = await runBot(bot, { params: HARNESS, input: [report(body)] });
  const events = out.output._default!;
  assert.deepEqual(events.map((e) => e["source.account"]), ["a@example.com", "b@example.com"], "sorted");
  const e = events[0]!;
  assert.equal(e["source.fqdn"], "example.com");
  assert.deepEqual(e["extra.domain_emails"], ["b@example.com", "a@example.com"]);
  assert.deepEqual(e["extra.breach"], BREACH);
  assert.equal(e["time.source"], "2019-09-30T17:15:11+00:00");
  assert.equal(e["classification.identifier"], "breach");
  assert.equal(e["classification.taxonomy"], "information-content-security");
  assert.equal(e["classification.type"], "data-leak");
  assert.equal(unb64(e.raw), '{"Breach": {"AddedDate": "2019-09-30T17:15:11Z", "BreachDate": "2018-12-13", "Name": "ExampleShop", "PwnCount": 5}, '
    + '"Domain": "example.com", "DomainEmails": ["b@example.com", "a@example.com"]}', "raw has sorted keys");
});

test("hibp: the callback test (a list of breaches, an Email) and pastes; the Email is counted once", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    report({ Domain: "example.com", DomainEmails: ["a@example.com"], Email: "a@example.com", Breach: [BREACH, BREACH] }),
    report({ Domain: "example.com", DomainEmails: ["a@example.com"], Email: "c@example.com", Paste: [{ Id: "x1", Source: "Pastebin" }] }),
  ] });
  const [breach, ...pastes] = out.output._default!;
  assert.equal(breach!["time.source"], undefined);
  assert.equal(breach!["source.account"], "a@example.com");
  assert.deepEqual(pastes.map((e) => e["source.account"]), ["a@example.com", "c@example.com"]);
  assert.equal(pastes[0]!["classification.identifier"], "paste");
  assert.deepEqual(pastes[0]!["extra.paste"], [{ Id: "x1", Source: "Pastebin" }]);
});

test("hibp: a callback without Domain is dumped with the reason; a report that is not JSON is dumped whole", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report({ DomainEmails: ["a@example.com"] }), report("<html>")] });
  assert.equal(out.output._default!.length, 0);
  assert.equal(out.dumped, 2);
  assert.match(dumpReason(out.dumps[0]!), /hibp: the callback has no Domain/);
  assert.equal(dumpedRaw(out.dumps[0]!), '{"DomainEmails": ["a@example.com"]}');
  assert.match(dumpReason(out.dumps[1]!), /hibp: the report is not JSON/);
  assert.equal(dumpedRaw(out.dumps[1]!), "<html>");
});

test("hibp: the sample report (fixtures/sample.json) gives its events and dumps nothing", async () => {
  await assertSample(bot, "hibp");
});
