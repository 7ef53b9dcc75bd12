// SPDX-License-Identifier: AGPL-3.0-only
// The SMTP output against a real SMTP server on loopback, through the runtime in library mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { createLibraryBot, runBot, type BotContext } from "../../../shared/sdk/index.js";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { OnceSender, smtpTransport } from "./mailer.js";
import bot, { csvLine } from "./index.js";
import { TestSmtpServer, header, mimeParts } from "../../../test/helpers/smtp.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const EVENT = { __type: "Event", "source.ip": "127.0.0.1", "source.url": "http://example.com/" };
const EVENT1 = { ...EVENT, "source.abuse_contact": "one@example.com,two@example.com" };
const PARAMS = {
  fieldnames: "source.ip,time.source,source.url", smtp_host: "127.0.0.1", text: "foobar", subject: "type: {ev[classification.type]}",
  mail_from: "myself@example.org", mail_to: "you@example.net,yourself@example.net", starttls: false,
};

test("IntelMQ's case: formatted headers (absent fields are None), the text, events.csv; envelope from mail_from, to the split To", async () => {
  const srv = await TestSmtpServer.start();
  try {
    const out = await runBot(bot, { params: { ...HARNESS, ...PARAMS, smtp_port: srv.port }, input: [EVENT] });
    assert.equal(out.dumped, 0);
    assert.equal(srv.mails.length, 1);
    const m = srv.mails[0]!;
    assert.equal(header(m.raw, "Subject"), "type: None");
    assert.equal(header(m.raw, "From"), "myself@example.org");
    assert.equal(header(m.raw, "To"), "you@example.net, yourself@example.net");
    assert.deepEqual({ from: m.from, to: m.to }, { from: "myself@example.org", to: ["you@example.net", "yourself@example.net"] });
    const parts = mimeParts(m.raw);
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.body, "foobar");
    assert.equal(parts[1]!.body, "source.ip;time.source;source.url\n127.0.0.1;;http://example.com/\n");
    assert.match(parts[1]!.headers, /Content-Disposition: attachment; filename="?events\.csv"?/);
    assert.match(parts[1]!.headers, /Content-Type: text\/csv/);
  } finally {
    await srv.down();
  }
});

test("recipients from the event; no fieldnames: no attachment", async () => {
  const srv = await TestSmtpServer.start();
  try {
    await runBot(bot, { params: { ...HARNESS, ...PARAMS, smtp_port: srv.port, mail_to: "{ev[source.abuse_contact]}", fieldnames: null }, input: [EVENT1] });
    assert.deepEqual(srv.mails[0]!.to, ["one@example.com", "two@example.com"]);
    assert.equal(header(srv.mails[0]!.raw, "To"), "one@example.com, two@example.com");
    assert.doesNotMatch(srv.mails[0]!.raw, /events\.csv/);
  } finally {
    await srv.down();
  }
});

test("STARTTLS (verification off for the test certificate) and authentication", async () => {
  const srv = await TestSmtpServer.start({ auth: { user: "cert", pass: "s3cret" } });
  try {
    const out = await runBot(bot, {
      params: { ...HARNESS, ...PARAMS, smtp_port: srv.port, starttls: true, http_verify_cert: false, smtp_username: "cert", smtp_password: "s3cret" }, input: [EVENT],
    });
    assert.equal(out.dumped, 0);
    assert.equal(srv.mails.length, 1);
    assert.equal(srv.mails[0]!.secure, true);
    assert.equal(srv.mails[0]!.user, "cert");
    const bad = await runBot(bot, { params: { ...HARNESS, ...PARAMS, smtp_port: srv.port, starttls: true, http_verify_cert: true }, input: [EVENT] });
    assert.equal(bad.dumped, 1, "the self-signed certificate is refused when verified");
  } finally {
    await srv.down();
  }
});

test("a 5xx answer fails the event (dumped); a redelivered input does not send its mails again", async () => {
  const srv = await TestSmtpServer.start();
  try {
    srv.reject = 550;
    const out = await runBot(bot, { params: { ...HARNESS, ...PARAMS, smtp_port: srv.port }, input: [EVENT] });
    assert.equal(out.dumped, 1);
    assert.equal(srv.mails.length, 0);
    srv.reject = null;
    // the same input twice, as after a lost acknowledgement: its mail goes once
    const broker = new MemoryBroker();
    const ctx = { botId: "mail-out", log: pino({ level: "silent" }), cache: (b: string, ttl: number) => broker.kv.open(b, ttl) } as unknown as BotContext;
    const sender = await OnceSender.open(ctx);
    const transport = smtpTransport({ host: "127.0.0.1", port: srv.port, ssl: false, starttls: false, username: null, password: null, verifyCert: true });
    const input = { key: "q:7:abc", queue: "q", seq: 7 };
    const mail = { from: "a@example.org", to: "b@example.org", subject: "s", text: "t", envelope: { from: "a@example.org", to: ["b@example.org"] } };
    await sender.send(transport, input, [mail, mail]);
    await sender.send(transport, input, [mail, mail]);
    assert.equal(srv.mails.length, 2);
    await sender.send(transport, { ...input, key: "q:8:abd", seq: 8 }, [mail]);
    assert.equal(srv.mails.length, 3);
    transport.close();
    await broker.close();
  } finally {
    await srv.down();
  }
});

test("a 4xx answer or a server away is waited out: the mail goes when the server takes it", async () => {
  const srv = await TestSmtpServer.start();
  srv.reject = 451;
  const b = await createLibraryBot(bot, { params: { ...HARNESS, ...PARAMS, smtp_port: srv.port } });
  try {
    const done = b.process([EVENT]);
    setTimeout(() => { srv.reject = null; }, 1500);
    const out = await done;
    assert.equal(out.dumped, 0);
    assert.equal(srv.mails.length, 1);
  } finally {
    await b.shutdown();
    await srv.down();
  }
});

test("CSV fields are quoted as Python's csv module quotes them", () => {
  assert.equal(csvLine(["a", "b;c", 'd"e', "f\ng", ""]), 'a;"b;c";"d""e";"f\ng";\n');
});
