// SPDX-License-Identifier: AGPL-3.0-only
// The templated SMTP output against a real SMTP server on loopback: IntelMQ's test cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { ErrorCode, createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { TestSmtpServer, header, mimeParts } from "../../../test/helpers/smtp.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ATTACHMENTS = JSON.parse(readFileSync(src("services/outputs/templated_smtp/fixtures/attachments.json"), "utf8")) as Record<string, string>[];
const EVENT = {
  __type: "Event", "source.ip": "127.0.0.1", "source.url": "http://example.com/", "destination.fqdn": "destination.example.com",
  "malware.name": "test-malware", raw: "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZy4K",
};
const PARAMS = {
  attachments: ATTACHMENTS, smtp_host: "127.0.0.1", body: "URL: {{ event['source.url'] }}",
  subject: "{{ event['malware.name'] }} on {{ event['destination.fqdn'] }}", mail_from: "myself@example.org", mail_to: "you@example.net,yourself@example.net",
};

async function send(params: Record<string, unknown>, event: Record<string, unknown> = EVENT): Promise<{ srv: TestSmtpServer; dumped: number; log: string }> {
  const srv = await TestSmtpServer.start();
  const lines: string[] = [];
  try {
    const out = await runBot(bot, { log: pino({ level: "info" }, { write: (s: string) => { lines.push(s); } }), params: { ...HARNESS, ...PARAMS, smtp_port: srv.port, ...params }, input: [event] });
    return { srv, dumped: out.dumped, log: lines.join("") };
  } finally {
    await srv.down();
  }
}

test("IntelMQ's test_event: subject, addresses, body and the three attachments rendered", async () => {
  const { srv, dumped } = await send({});
  assert.equal(dumped, 0);
  const m = srv.mails[0]!;
  assert.equal(header(m.raw, "Subject"), "test-malware on destination.example.com");
  assert.equal(header(m.raw, "From"), "myself@example.org");
  assert.equal(header(m.raw, "To"), "you@example.net, yourself@example.net");
  assert.deepEqual({ from: m.from, to: m.to }, { from: "myself@example.org", to: ["you@example.net", "yourself@example.net"] });
  const parts = mimeParts(m.raw);
  assert.equal(parts.length, 4);
  assert.equal(parts[0]!.body, "URL: http://example.com/\n");
  assert.deepEqual(JSON.parse(parts[1]!.body), { malware: "test-malware", "source.ip": "127.0.0.1", "source.url": "http://example.com/" });
  assert.match(parts[1]!.headers, /Content-Type: application\/json/);
  assert.match(parts[1]!.headers, /filename="?report\.json"?/);
  assert.equal(parts[2]!.body, "Malware: test-malware\nSystem: destination.example.com");
  assert.equal(parts[3]!.body, "source.ip;source.port;source.url\n127.0.0.1;;http://example.com/");
});

test("recipients from the event, stripped", async () => {
  const { srv } = await send({ mail_to: "{{ event['source.abuse_contact'] }}" }, { ...EVENT, "source.abuse_contact": "one@example.com, two@example.com" });
  assert.deepEqual(srv.mails[0]!.to, ["one@example.com", "two@example.com"]);
});

test("from_json of the output field; a malformed JSON string stays the string", async () => {
  const output = { title: "Test title", lines: [{ time: "2021-10-11 12:13Z", log: "An event occurred" }, { time: "2021-10-14 15:16Z", log: "Another event occurred" }] };
  const body = "\n{%- set output = from_json(event['output']) %}\n{{ output['title'] }}\n\n{% for line in output['lines'] -%}\n{{ line['time'] }} : {{ line['log'] }}\n{% endfor -%}\n";
  const a = await send({ body, attachments: [] }, { ...EVENT, output: JSON.stringify(output) });
  assert.equal(mimeParts(a.srv.mails[0]!.raw)[0]!.body, "\nTest title\n\n2021-10-11 12:13Z : An event occurred\n2021-10-14 15:16Z : Another event occurred\n");
  const b = await send({ body: "\n{%- set output = from_json(event['output']) %}\nA{{ output }}B\n", attachments: [] }, { ...EVENT, output: "{ malformed" });
  assert.equal(b.srv.mails[0]!.raw.includes("A{ malformedB"), true);
});

test("the default body lists every field but raw", async () => {
  const { srv } = await send({ body: undefined, attachments: [] });
  const text = mimeParts(srv.mails[0]!.raw)[0]!.body;
  assert.match(text, /^source\.ip: 127\.0\.0\.1$/m);
  assert.match(text, /^malware\.name: test-malware$/m);
  assert.doesNotMatch(text, /^raw:/m);
});

test("an attachment without text is left out with IntelMQ's error; missing sender or recipient, or half a login, is a configuration error", async () => {
  const { srv, log, dumped } = await send({ attachments: [{ "content-type": "application/json", name: "report.json" }] });
  assert.equal(dumped, 0);
  assert.match(log, /Attachment does not have a text, ignoring: \{'content-type': 'application\/json', 'name': 'report.json'\}\./);
  assert.doesNotMatch(srv.mails[0]!.raw, /report\.json/);
  for (const bad of [{ mail_from: null }, { mail_to: "" }, { username: "u" }, { password: "p" }]) {
    await assert.rejects(createLibraryBot(bot, { params: { ...PARAMS, ...bad } }), { code: ErrorCode.ConfigurationError });
  }
});
