// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { BrokerUnavailableError } from "../../../shared/errors/index.js";
import { createLogger, runBot, startBot } from "../../../shared/runtime/index.js";
import { startDovecot, type Dovecot } from "../../../test/helpers/dovecot.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { buildMail, storedZip } from "../../../test/helpers/mail.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

let imap: Dovecot;
before(async () => { imap = await startDovecot({ tls: true, folders: ["Feeds"] }); });
after(async () => { await imap?.stop(); });

function mailParams(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mail_host: "127.0.0.1", mail_port: imap.port, mail_ssl: false, mail_user: imap.user, mail_password: imap.password,
    error_max_retries: 0, error_retry_delay: 0, rate_limit: 0, name: "Mail feed",
    logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
  };
}

/** One scheduled run of the bot on a broker; the reports it left in the queue. */
async function runOnce(broker: MemoryBroker, params: Record<string, unknown>) {
  const h = await startBot({ def: bot, botId: "mail-attach", broker, logger: log, params: { ...params, run_mode: "scheduled", destination_queues: ["q"] } });
  const code = await h.done;
  return { code, stats: h.stats() };
}

const queued = (broker: MemoryBroker) => takeQueued(broker, "q");

/** 50 mails into `folder`: 24 with a CSV, 24 with a zipped CSV, one whose attachment matches no filter, one whose subject does not. */
function deliverFifty(folder: string, tag: string): { matching: Set<string>; other: Set<string>; expected: Map<string, string> } {
  const matching = new Set<string>(), other = new Set<string>();
  const expected = new Map<string, string>(); // file name -> content
  for (let i = 0; i < 48; i++) {
    const csv = `ip,port\n192.0.2.${i},${1000 + i}\n# ${tag}\n`;
    const name = `report-${tag}-${i}.csv`;
    const att = i % 2 === 0 ? { name, data: csv, type: "text/csv" } : { name: `${name}.zip`, data: storedZip({ [name]: csv }), type: "application/zip" };
    expected.set(name, csv);
    matching.add(imap.deliver(buildMail({ subject: `Report ${tag} ${i}`, text: "see attachment", messageId: `<m${i}.${tag}@example.com>`, attachments: [att] }), folder));
  }
  other.add(imap.deliver(buildMail({ subject: `Report ${tag} notes`, text: "x", attachments: [{ name: "notes.txt", data: "not a report" }] }), folder));
  other.add(imap.deliver(buildMail({ subject: `Hello ${tag}`, text: "x", attachments: [{ name: "spam.csv", data: "1,2\n" }] }), folder));
  return { matching, other, expected };
}

test("mail_attach: 50 mails, CSV and zipped CSV attachments become reports; matched mails marked seen, others untouched", async () => {
  const { matching, other, expected } = deliverFifty("Feeds", "a");
  const broker = new MemoryBroker();
  try {
    const { code, stats } = await runOnce(broker, mailParams({ folder: "Feeds", subject_regex: "^Report", attach_regex: "\\.csv(\\.zip)?$" }));
    assert.equal(code, 0);
    assert.equal(stats.failure, 0);
    const reports = await queued(broker);
    assert.equal(reports.length, 48);
    const got = new Map(reports.map((r) => [String(r["extra.file_name"]), unb64(r.raw)]));
    assert.deepEqual(got, expected);
    const first = reports.find((r) => r["extra.file_name"] === "report-a-0.csv")!;
    assert.equal(first["extra.email_subject"], "Report a 0");
    assert.equal(first["extra.email_from"], "feeds@example.com");
    assert.equal(first["extra.email_message_id"], "<m0.a@example.com>");
    assert.equal(first["extra.email_date"], "Thu, 03 Dec 2026 10:00:00 +0000");
    assert.equal(first["feed.name"], "Mail feed");
    assert.deepEqual(imap.seen("Feeds"), matching, "exactly the mails that gave reports are seen");
    for (const m of other) assert.ok(imap.all("Feeds").includes(m) && !imap.seen("Feeds").has(m));
    // a second round finds nothing new: the seen mails are not read again
    const again = await runOnce(broker, mailParams({ folder: "Feeds", subject_regex: "^Report", attach_regex: "\\.csv(\\.zip)?$" }));
    assert.equal(again.code, 0);
    assert.equal((await queued(broker)).length, 0);
  } finally {
    await broker.close();
  }
});

test("mail_attach: publishing fails mid-round (the bot stops during a broker outage): no mail is marked seen; the next run sends each report once", async () => {
  const { matching } = deliverFifty("INBOX", "b");
  const params = mailParams({ subject_regex: "^Report b", attach_regex: "\\.csv(\\.zip)?$" });
  const broker = new MemoryBroker();
  try {
    const publish = broker.queues.publish.bind(broker.queues);
    let n = 0;
    let stopping: Promise<void> | null = null;
    const h = await startBot({ def: bot, botId: "mail-attach", broker, logger: log, params: { ...params, run_mode: "scheduled", destination_queues: ["q"] } });
    broker.queues.publish = async (queue, data, opts) => {
      if (++n >= 10) {
        stopping ??= h.stop();
        throw new BrokerUnavailableError("the broker went away for the test");
      }
      return publish(queue, data, opts);
    };
    await h.done;
    await stopping;
    assert.ok(n >= 10, "the round was cut while publishing");
    assert.equal(await broker.queues.depth("q"), 9);
    assert.equal(imap.seen("INBOX").size, 0, "no mail marked seen after a failed round");
    broker.queues.publish = publish;
    const ok = await runOnce(broker, params);
    assert.equal(ok.stats.failure, 0);
    const reports = await queued(broker);
    assert.equal(reports.length, 48, "the reports stored in the failed round are not stored twice");
    assert.equal(new Set(reports.map((r) => r["extra.file_name"])).size, 48);
    assert.deepEqual(imap.seen("INBOX"), matching);
  } finally {
    await broker.close();
  }
});

test("mail_attach: the IMAP connection breaks mid-fetch: nothing marked seen; the retry sends every report once", async () => {
  await using proxy = await startCutProxy(imap.port);
  const folder = "INBOX";
  const before = imap.seen(folder);
  const { matching } = deliverFifty(folder, "c");
  const params = mailParams({ mail_port: proxy.port, subject_regex: "^Report c", attach_regex: "\\.csv(\\.zip)?$" });
  const broker = new MemoryBroker();
  try {
    proxy.cutAfter(12_000); // greeting, login, search and some of the mails
    const failed = await runOnce(broker, params);
    assert.equal(failed.stats.failure, 1);
    assert.ok(proxy.cuts >= 1);
    const partial = await broker.queues.depth("q");
    assert.ok(partial > 0 && partial < 48, `some reports were stored before the cut (${partial})`);
    assert.deepEqual(imap.seen(folder), before, "nothing marked seen");
    proxy.cutAfter(null);
    const ok = await runOnce(broker, params);
    assert.equal(ok.stats.failure, 0);
    const reports = await queued(broker);
    assert.equal(reports.length, 48, "none lost, none twice");
    assert.equal(new Set(reports.map((r) => r["extra.file_name"])).size, 48);
    assert.deepEqual(imap.seen(folder), new Set([...before, ...matching]));
  } finally {
    await broker.close();
  }
});

test("mail_attach: sender filter, extract_files list and false, gzip, IntelMQ's default attach_regex", async () => {
  const zip = storedZip({ "a.csv": "a\n", "b.csv": "b\n" });
  const theirs = imap.deliver(buildMail({ subject: "Filter d", from: "other@example.org", attachments: [{ name: "x.csv.zip", data: zip }] }));
  const mine = imap.deliver(buildMail({ subject: "Filter d", attachments: [{ name: "x.csv.zip", data: zip }, { name: "y.csv.gz", data: gzipSync("gz\n") }] }));
  const base = mailParams({ subject_regex: "Filter d", sent_from: "feeds@example.com" });
  const some = await runBot(bot, { log, params: { ...base, attach_regex: "csv", extract_files: "b.csv" } });
  // the gzip stream has no member names: no extra.file_name, as IntelMQ
  assert.deepEqual(some.output._default!.map((r) => [r["extra.file_name"], unb64(r.raw)]), [["b.csv", "b\n"], [undefined, "gz\n"]]);
  assert.ok(imap.seen("INBOX").has(mine));
  assert.ok(!imap.seen("INBOX").has(theirs), "another sender's mail is left unread");
  const other = imap.deliver(buildMail({ subject: "Filter e", attachments: [{ name: "x.csv.zip", data: zip }] }));
  const asIs = await runBot(bot, { log, params: { ...mailParams({ subject_regex: "Filter e" }), extract_files: false } });
  assert.deepEqual(asIs.output._default!.map((r) => [r["extra.file_name"], Buffer.from(String(r.raw), "base64")]), [["x.csv.zip", zip]]);
  assert.ok(imap.seen("INBOX").has(other));
});

test("mail_attach: IMAPS and STARTTLS with the server's certificate; an unknown certificate fails the round", async () => {
  const m = imap.deliver(buildMail({ subject: "TLS f", attachments: [{ name: "t.csv", data: "tls\n" }] }));
  const tls = { mail_port: imap.tlsPort, mail_ssl: true, subject_regex: "TLS f", attach_regex: "csv" };
  const refused = await runBot(bot, { log, params: mailParams({ ...tls, mail_port: imap.tlsPort }) });
  assert.equal(refused.output._default!.length, 0, "self-signed and not trusted");
  assert.ok(!imap.seen("INBOX").has(m));
  const trusted = await runBot(bot, { log, params: mailParams({ ...tls, ssl_ca_certificate: imap.caFile }) });
  assert.deepEqual(trusted.output._default!.map((r) => unb64(r.raw)), ["tls\n"]);
  assert.ok(imap.seen("INBOX").has(m));
  const m2 = imap.deliver(buildMail({ subject: "TLS g", attachments: [{ name: "t.csv", data: "starttls\n" }] }));
  const starttls = await runBot(bot, { log, params: mailParams({ mail_starttls: true, http_verify_cert: false, subject_regex: "TLS g", attach_regex: "csv" }) });
  assert.deepEqual(starttls.output._default!.map((r) => unb64(r.raw)), ["starttls\n"]);
  assert.ok(imap.seen("INBOX").has(m2));
});

test("mail_attach: two mails with the same attachment are two reports", async () => {
  const a = imap.deliver(buildMail({ subject: "Same h", messageId: "<h1@example.com>", attachments: [{ name: "same.csv", data: "1.2.3.4\n" }] }));
  const b = imap.deliver(buildMail({ subject: "Same h", messageId: "<h2@example.com>", attachments: [{ name: "same.csv", data: "1.2.3.4\n" }] }));
  const broker = new MemoryBroker();
  try {
    const { code } = await runOnce(broker, mailParams({ subject_regex: "^Same h", attach_regex: "csv" }));
    assert.equal(code, 0);
    const reports = await queued(broker);
    assert.deepEqual(reports.map((r) => r["extra.email_message_id"]).sort(), ["<h1@example.com>", "<h2@example.com>"]);
    assert.ok(imap.seen().has(a) && imap.seen().has(b));
  } finally {
    await broker.close();
  }
});

test("mail_attach: a later round after a failed one (same process) sends only the mails not queued yet", async () => {
  await using proxy = await startCutProxy(imap.port);
  const { matching } = deliverFifty("INBOX", "i");
  const broker = new MemoryBroker();
  const params = mailParams({ mail_port: proxy.port, subject_regex: "^Report i", attach_regex: "\\.csv(\\.zip)?$", destination_queues: ["q"] });
  proxy.cutAfter(12_000, 1); // the first round breaks off; the runtime goes on with the next round
  const h = await startBot({ def: bot, botId: "mail-attach", broker, logger: log, params });
  try {
    for (let i = 0; i < 400 && [...matching].some((m) => !imap.seen().has(m)); i++) await new Promise((r) => setTimeout(r, 25));
    await h.stop();
    assert.equal(h.stats().failure, 1, "the first round failed");
    for (const m of matching) assert.ok(imap.seen().has(m));
    const reports = await queued(broker);
    assert.equal(reports.length, 48, "none lost, none twice across rounds");
    assert.equal(new Set(reports.map((r) => r["extra.file_name"])).size, 48);
  } finally {
    await h.stop();
    await broker.close();
  }
});
