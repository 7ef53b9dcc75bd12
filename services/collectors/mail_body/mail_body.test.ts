// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { ErrorCode } from "../../../shared/errors/index.js";
import { createLogger, runBot, startBot } from "../../../shared/runtime/index.js";
import { startDovecot, type Dovecot } from "../../../test/helpers/dovecot.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { buildMail } from "../../../test/helpers/mail.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot, { contentTypes } from "./index.js";
import { textBodies } from "../mail_attach/mime.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

let imap: Dovecot;
before(async () => { imap = await startDovecot(); });
after(async () => { await imap?.stop(); });

function mailParams(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mail_host: "127.0.0.1", mail_port: imap.port, mail_ssl: false, mail_user: imap.user, mail_password: imap.password,
    error_max_retries: 0, error_retry_delay: 0, rate_limit: 0, logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
  };
}

test("mail_body: plain and HTML bodies in content_types order; a mail without the wanted body stays unread", async () => {
  const both = imap.deliver(buildMail({ subject: "Body a 1", text: "192.0.2.1 bad\n", html: "<p>192.0.2.1 bad</p>", messageId: "<a1@example.com>" }));
  const htmlOnly = imap.deliver(buildMail({ subject: "Body a 2", html: "<b>html only</b>" }));
  const plainOnly = imap.deliver(buildMail({ subject: "Body a 3", text: "plain only\n" }));
  const out = await runBot(bot, { log, params: mailParams({ subject_regex: "^Body a" }) });
  assert.deepEqual(out.output._default!.map((r) => unb64(r.raw)), ["192.0.2.1 bad\r\n", "<p>192.0.2.1 bad</p>", "<b>html only</b>", "plain only\r\n"]);
  const r = out.output._default![0]!;
  assert.equal(r["extra.email_subject"], "Body a 1");
  assert.equal(r["extra.email_message_id"], "<a1@example.com>");
  assert.equal(r["extra.email_from"], "feeds@example.com");
  for (const m of [both, htmlOnly, plainOnly]) assert.ok(imap.seen().has(m));

  const h1 = imap.deliver(buildMail({ subject: "Body b 1", text: "text b\n", html: "<i>b</i>" }));
  const h2 = imap.deliver(buildMail({ subject: "Body b 2", text: "text only\n" }));
  const html = await runBot(bot, { log, params: mailParams({ subject_regex: "^Body b", content_types: "html" }) });
  assert.deepEqual(html.output._default!.map((x) => unb64(x.raw)), ["<i>b</i>"]);
  assert.ok(imap.seen().has(h1));
  assert.ok(!imap.seen().has(h2), "no HTML body: nothing sent, left unread");
});

test("mail_body: content_types as IntelMQ reads it", async () => {
  assert.deepEqual(contentTypes("html, plain"), ["html", "plain"]);
  assert.deepEqual(contentTypes(""), ["plain", "html"]);
  assert.deepEqual(contentTypes(null), ["plain", "html"]);
  assert.deepEqual(contentTypes(true), ["plain", "html"]);
  assert.deepEqual(contentTypes(["plain"]), ["plain"]);
  await assert.rejects(runBot(bot, { log, params: mailParams({ content_types: "pdf" }) }), { code: ErrorCode.InvalidArgument });
});

test("mail_body: the IMAP connection breaks mid-fetch: nothing marked seen; the retry sends every body once", async () => {
  await using proxy = await startCutProxy(imap.port);
  const mine = new Set<string>();
  for (let i = 0; i < 20; i++) mine.add(imap.deliver(buildMail({ subject: `Body c ${i}`, text: `line ${i} ${"x".repeat(500)}\n` })));
  const params = mailParams({ mail_port: proxy.port, subject_regex: "^Body c", run_mode: "scheduled", destination_queues: ["q"] });
  const seenBefore = imap.seen();
  const broker = new MemoryBroker();
  try {
    proxy.cutAfter(6_000);
    const h = await startBot({ def: bot, botId: "mail-body", broker, logger: log, params });
    await h.done;
    assert.equal(h.stats().failure, 1);
    const partial = await broker.queues.depth("q");
    assert.ok(partial > 0 && partial < 20, `some bodies were stored before the cut (${partial})`);
    assert.deepEqual(imap.seen(), seenBefore, "nothing marked seen");
    proxy.cutAfter(null);
    const h2 = await startBot({ def: bot, botId: "mail-body", broker, logger: log, params });
    await h2.done;
    assert.equal(h2.stats().failure, 0);
    const reports = await takeQueued(broker, "q");
    assert.deepEqual(reports.map((r) => unb64(r.raw).split(" ").slice(0, 2).join(" ")).sort(), [...Array(20).keys()].map((i) => `line ${i}`).sort());
    for (const m of mine) assert.ok(imap.seen().has(m));
  } finally {
    await broker.close();
  }
});

test("mail_body: bodies of nested multiparts, quoted-printable and base64 with a charset; text attachments are no body", () => {
  const mail = [
    "Subject: x", "Content-Type: multipart/mixed; boundary=outer", "", "preamble",
    "--outer", "Content-Type: multipart/alternative;", ' boundary="inner b"', "",
    "--inner b", "Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable", "", "caf=E9 =", "soft", "",
    "--inner b", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "", Buffer.from("<p>ü</p>").toString("base64"),
    "--inner b--", "",
    "--outer", "Content-Type: text/plain", 'Content-Disposition: attachment; filename="a.txt"', "", "not a body",
    "--outer--", "",
  ].join("\r\n");
  assert.deepEqual(textBodies(Buffer.from(mail, "latin1")), { plain: ["café soft\r\n"], html: ["<p>ü</p>"] });
  assert.deepEqual(textBodies(Buffer.from("Subject: y\n\nsimple\n")), { plain: ["simple\n"], html: [] });
});
