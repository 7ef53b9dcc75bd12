// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpReason, dumpedRaw } from "../../../test/helpers/dumps.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const EVENT = readFileSync(src("services", "parsers", "misp", "fixtures", "event.json"), "utf8");
const report = (text: string, url: string | null = "https://misp.example.com/") => ({
  __type: "Report", "feed.name": "MISP", ...(url ? { "feed.url": url } : {}), "time.observation": "2016-06-15T09:25:26+00:00",
  raw: Buffer.from(text, "utf8").toString("base64"),
});
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

test("misp: attributes of supported categories and types, with object attributes, the tag's classification and the malware", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(EVENT)] });
  const [url, md5] = out.output._default!;
  assert.equal(out.output._default!.length, 2);
  assert.equal(url!["source.url"], "http://bad.example.com/malware/is/here");
  assert.equal(url!["misp.event_uuid"], "5758ebf5-c898-48e6-9fe9-5665c0a83866");
  assert.equal(url!["misp.attribute_uuid"], "575c8598-f1f0-4c16-a94a-0612c0a83866");
  assert.equal(url!["event_description.text"], "Payload delivery");
  assert.equal(url!["event_description.url"], "https://misp.example.com/events/view/2");
  assert.equal(url!["malware.name"], "locky");
  assert.equal(url!["classification.type"], "infected-system");
  assert.equal(url!["classification.identifier"], "dropzone");
  assert.equal(url!["time.source"], "2016-06-11T21:41:44+00:00");
  assert.match(unb64(url!.raw), /^\{"category": "Payload delivery", "comment": "", "timestamp": "1465681304", "type": "url", /);
  assert.equal(md5!["malware.hash.md5"], "35dc4564216d51e64e40bc0eef932d2e");
  assert.equal(md5!["comment"], "dropper");
  assert.equal(out.dumped, 1, "the attribute with an invalid address");
  assert.match(dumpReason(out.dumps[0]!), /not-an-ip/);
  assert.match(dumpedRaw(out.dumps[0]!), /"value": "not-an-ip"/);
});

test("misp: a report that is not a MISP event, or without feed.url, is dumped whole, naming the parser", async () => {
  const cases: [ReturnType<typeof report>, RegExp][] = [
    [report("[]"), /misp: the report is not a JSON object but a list/],
    [report('{"id": "1"}'), /misp: the MISP event has no Attribute list/],
    [report(EVENT, null), /misp: no MISP event URL from feed\.url null/],
  ];
  for (const [input, why] of cases) {
    const out = await runBot(bot, { params: HARNESS, input: [input] });
    assert.equal(out.dumped, 1);
    assert.match(dumpReason(out.dumps[0]!), why);
  }
});

test("misp: the sample report (fixtures/sample.json) gives its event and dumps nothing", async () => {
  await assertSample(bot, "misp");
});
