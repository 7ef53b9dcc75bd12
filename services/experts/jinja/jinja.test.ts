// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const INPUT = { "__type": "Event", "source.ip": "192.168.0.1", "destination.ip": "192.0.43.8", "time.observation": "2015-01-01T00:00:00+00:00", "feed.url": "https://cert.at" };
const fixture = (name: string): string => fileURLToPath(new URL(`../../../../services/experts/jinja/fixtures/${name}`, import.meta.url));

test("jinja: a filter, with overwrite (IntelMQ's test_jinja1)", async () => {
  const out = await runBot(bot, { params: { fields: { "feed.url": "{{ msg['feed.url'] | upper }}" }, overwrite: true }, input: [INPUT] });
  assert.deepEqual(out.output._default, [{ ...INPUT, "feed.url": "HTTPS://CERT.AT" }]);
});

test("jinja: a new field from two others, no HTML escaping (IntelMQ's test_jinja2)", async () => {
  const fields = { "extra.some_text": "Hello World, this is the destination ip: {{ msg['destination.ip'] }}! And this is the source ip: {{ msg['source.ip'] }}! <&>" };
  const out = await runBot(bot, { params: { fields }, input: [INPUT] });
  assert.deepEqual(out.output._default, [{ ...INPUT, "extra.some_text": "Hello World, this is the destination ip: 192.0.43.8! And this is the source ip: 192.168.0.1! <&>" }]);
});

test("jinja: without overwrite an existing field is kept; a template from a file; msg.get and 'in'", async () => {
  const out = await runBot(bot, {
    params: { fields: JSON.stringify({ "feed.url": "x", "comment": `file://${fixture("note.j2")}` }) },
    input: [INPUT],
  });
  assert.deepEqual(out.output._default, [{ ...INPUT, comment: "192.168.0.1 (no ASN) via https://cert.at" }]);
});

test("jinja: an unreadable file and a broken template stop the bot at start", async () => {
  await assert.rejects(createLibraryBot(bot, { params: { fields: { comment: "file:///nonexistent/x.j2" } } }), /does not exist or is not readable/);
  await assert.rejects(createLibraryBot(bot, { params: { fields: { comment: "{% if %}" } } }), /Error parsing Jinja Template for 'comment'/);
});

test("jinja: a value the field does not take is dumped", async () => {
  const out = await runBot(bot, { params: { fields: { "source.port": "{{ msg['feed.url'] }}" }, error_max_retries: 0 }, input: [INPUT] });
  assert.equal(out.dumped, 1);
});
