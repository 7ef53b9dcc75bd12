// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, runBot, startBot } from "../../../shared/runtime/index.js";
import { startDovecot, type Dovecot } from "../../../test/helpers/dovecot.js";
import { buildMail } from "../../../test/helpers/mail.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import bot, { fileNameOf } from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

let imap: Dovecot;
let http: Server;
let base = "";
/** path -> how to answer: a body, or "break" (half the body, then the connection is cut) */
const routes = new Map<string, string | { status: number } | "break">();
const hits: string[] = [];

before(async () => {
  imap = await startDovecot();
  http = createServer((req, res) => {
    hits.push(req.url!);
    const r = routes.get(req.url!);
    if (r === undefined) { res.writeHead(404); res.end("no"); return; }
    if (r === "break") {
      res.writeHead(200, { "content-length": "1000" });
      // cut once the first part is on its way
      res.write("ip\n192.0.2.1\n", () => res.socket?.destroy());
      return;
    }
    if (typeof r === "object") { res.writeHead(r.status); res.end(); return; }
    const headers: Record<string, string> = { "content-type": "text/csv" };
    if (req.url!.includes("named")) headers["content-disposition"] = 'attachment; filename="named.csv"';
    res.writeHead(200, headers);
    res.end(r);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
after(async () => {
  await imap?.stop();
  await new Promise<void>((r) => http?.close(() => r()));
});

function params(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mail_host: "127.0.0.1", mail_port: imap.port, mail_ssl: false, mail_user: imap.user, mail_password: imap.password,
    url_regex: "http://127\\.0\\.0\\.1:\\d+/\\S+", error_max_retries: 0, error_retry_delay: 0, rate_limit: 0,
    logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", ...extra,
  };
}

test("mail_url: the URL in the body is downloaded into a report with feed.url, file name and the mail's fields", async () => {
  routes.set("/a/feed.csv", "ip\n192.0.2.1\n");
  routes.set("/a/named", "ip\n192.0.2.2\n");
  const m1 = imap.deliver(buildMail({ subject: "URL a 1", text: `Your report is at\r\n  ${base}/a/feed.csv  \r\nregards\r\n`, messageId: "<u1@example.com>" }));
  const m2 = imap.deliver(buildMail({ subject: "URL a 2", text: `${base}/a/named\r\n` }));
  const none = imap.deliver(buildMail({ subject: "URL a 3", text: "no link here\r\n", html: `<a href="${base}/a/feed.csv">x</a>` }));
  const out = await runBot(bot, { log, params: params({ subject_regex: "^URL a" }) });
  const reports = out.output._default!;
  assert.deepEqual(reports.map((r) => [unb64(r.raw), r["feed.url"], r["extra.file_name"]]), [
    ["ip\n192.0.2.1\n", `${base}/a/feed.csv`, "feed.csv"],
    ["ip\n192.0.2.2\n", `${base}/a/named`, "named.csv"],
  ]);
  assert.equal(reports[0]!["extra.email_subject"], "URL a 1");
  assert.equal(reports[0]!["extra.email_message_id"], "<u1@example.com>");
  assert.ok(imap.seen().has(m1) && imap.seen().has(m2));
  assert.ok(!imap.seen().has(none), "only the plain-text body is searched; no URL: left unread");
});

test("mail_url: chunk_size splits the download, repeating the header line", async () => {
  routes.set("/b/big.csv", "h\n1111\n2222\n3333\n");
  imap.deliver(buildMail({ subject: "URL b", text: `${base}/b/big.csv\r\n` }));
  const out = await runBot(bot, { log, params: params({ subject_regex: "^URL b", chunk_size: 10 }) });
  assert.deepEqual(out.output._default!.map((r) => unb64(r.raw)), ["h\n1111\n2222\n", "h\n3333\n"]);
});

test("mail_url: the server breaks off mid-download: no report of it, that mail stays unread, the others are done; the next round sends it once", async () => {
  routes.set("/c/before.csv", "ip\n192.0.2.4\n");
  routes.set("/c/feed.csv", "break");
  routes.set("/c/after.csv", "ip\n192.0.2.5\n");
  const before = imap.deliver(buildMail({ subject: "URL c 1", text: `${base}/c/before.csv\r\n` }));
  const m = imap.deliver(buildMail({ subject: "URL c 2", text: `${base}/c/feed.csv\r\n` }));
  const after = imap.deliver(buildMail({ subject: "URL c 3", text: `${base}/c/after.csv\r\n` }));
  const broker = new MemoryBroker();
  // IntelMQ's default error_procedure pass would mark it seen (and lose the report)
  const p = params({ subject_regex: "^URL c", run_mode: "scheduled", destination_queues: ["q"], error_procedure: "pass" });
  try {
    const h = await startBot({ def: bot, botId: "mail-url", broker, logger: log, params: p });
    await h.done;
    assert.ok(hits.includes("/c/feed.csv"));
    assert.deepEqual((await takeQueued(broker, "q")).map((r) => unb64(r.raw)), ["ip\n192.0.2.4\n", "ip\n192.0.2.5\n"], "nothing of the broken download");
    assert.ok(!imap.seen().has(m), "not marked seen");
    assert.ok(imap.seen().has(before) && imap.seen().has(after));
    routes.set("/c/feed.csv", "ip\n192.0.2.3\n");
    const h2 = await startBot({ def: bot, botId: "mail-url", broker, logger: log, params: p });
    await h2.done;
    const reports = await takeQueued(broker, "q");
    assert.deepEqual(reports.map((r) => unb64(r.raw)), ["ip\n192.0.2.3\n"], "the broken one once, the others not again");
    assert.ok(imap.seen().has(m));
    const h3 = await startBot({ def: bot, botId: "mail-url", broker, logger: log, params: p });
    await h3.done;
    assert.equal(await broker.queues.depth("q"), 0, "a seen mail is not fetched again");
  } finally {
    await broker.close();
  }
});

test("mail_url: a 5xx leaves the mail unread; a 4xx too, unless error_procedure is pass (IntelMQ's)", async () => {
  routes.set("/d/busy.csv", { status: 503 });
  const busy = imap.deliver(buildMail({ subject: "URL d 1", text: `${base}/d/busy.csv\r\n` }));
  const passBusy = await runBot(bot, { log, params: params({ subject_regex: "^URL d 1", error_procedure: "pass" }) });
  assert.equal(passBusy.output._default!.length, 0);
  assert.ok(!imap.seen().has(busy), "a temporary failure is read again");
  routes.set("/d/gone.csv", { status: 404 });
  const m = imap.deliver(buildMail({ subject: "URL d 2", text: `${base}/d/gone.csv\r\n` }));
  const stop = await runBot(bot, { log, params: params({ subject_regex: "^URL d 2", error_procedure: "stop" }) });
  assert.equal(stop.output._default!.length, 0);
  assert.ok(!imap.seen().has(m));
  const pass = await runBot(bot, { log, params: params({ subject_regex: "^URL d 2", error_procedure: "pass" }) });
  assert.equal(pass.output._default!.length, 0);
  assert.ok(imap.seen().has(m), "error_procedure pass: given up and marked seen, as IntelMQ");
});

test("mail_url: file names as IntelMQ's file_name_from_response", () => {
  assert.equal(fileNameOf('attachment; filename="x.csv"', "http://h/a/b"), "x.csv");
  assert.equal(fileNameOf("attachment; filename=y.zip", "http://h/a/b"), "y.zip");
  assert.equal(fileNameOf(undefined, "http://h/a/b.csv"), "b.csv");
});
