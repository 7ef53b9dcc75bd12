// SPDX-License-Identifier: AGPL-3.0-only
// smtp_batch: events kept per recipient in the KV bucket (library mode), then sent to a real SMTP server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot } from "../../../shared/sdk/index.js";
import bot, { batchBucket, params } from "./index.js";
import { prepareMails, recipientToken, sendMails, zipOne } from "./batch.js";
import { TestSmtpServer, header, mimeParts } from "../../../test/helpers/smtp.js";
import { src } from "../../../test/helpers/paths.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const IDENTITY1 = "one@example.com";
const IDENTITY2 = "one@example2.com";
const EVENT1 = { __type: "Event", "source.ip": "127.0.0.1", "source.url": "http://example.com/", "source.abuse_contact": IDENTITY1, "time.observation": "2024-09-16T10:00:00+00:00",
  raw: Buffer.from("line one\r\n").toString("base64") };
const EVENT2 = { __type: "Event", "source.ip": "127.0.0.2", "source.url": "http://example2.com/", "source.abuse_contact": IDENTITY2, "time.observation": "2024-09-16T10:00:00+00:00" };
const NOW = new Date("2024-09-17T08:00:00Z");

/** The files of a zip archive as Python's zipfile reads them (an implementation other than ours). */
function unzip(zip: Buffer): Record<string, string> {
  const file = join(tempDir("zip-"), "a.zip");
  writeFileSync(file, zip);
  const r = spawnSync("python3", ["-c", "import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(json.dumps({n: z.read(n).decode() for n in z.namelist()}))", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

test("events are kept per recipient, once per input; mails go one per recipient with the zipped CSV, then the events are gone", async () => {
  const b = await createLibraryBot(bot, { params: { email_from: "cert@example.org" } });
  const srv = await TestSmtpServer.start();
  try {
    await b.process([EVENT1, EVENT1, EVENT2, EVENT1, { __type: "Event", "source.ip": "127.0.0.9" }]);
    const store = await b.broker.kv.open(batchBucket(b.botId), 3600);
    const keys = [...(await store.entries()).keys()];
    assert.equal(keys.filter((k) => k.startsWith(`${recipientToken(IDENTITY1)}.`)).length, 3);
    assert.equal(keys.filter((k) => k.startsWith(`${recipientToken(IDENTITY2)}.`)).length, 1);
    assert.equal(keys.length, 4);

    const prm = { ...params.parse({}), email_from: "cert@example.org", mail_template: src("services/outputs/smtp_batch/fixtures/mail_template.txt"),
      smtp_server: `127.0.0.1:${srv.port}`, subject: "Testing subject %Y-%m-%d", attachment_name: "events_%Y-%m-%d", bcc: ["archive@example.org"] };
    const mails = await prepareMails(store, prm, NOW);
    assert.deepEqual(mails.map((m) => [m.to, m.count]).sort(), [[IDENTITY1, 3], [IDENTITY2, 1]]);

    // to the tester first: nothing is removed, the subject names the intended recipient
    assert.equal(await sendMails(store, prm, mails, { overrideTo: "tester@example.org", now: NOW }), 2);
    assert.deepEqual(srv.mails.map((m) => m.to), [["tester@example.org"], ["tester@example.org"]]);
    assert.match(header(srv.mails[0]!.raw, "Subject")!, /^Testing subject 2024-09-17 \(intended for one@example2?\.com\)$/);
    assert.equal((await store.entries()).size, 4);

    assert.equal(await sendMails(store, prm, mails, { now: NOW }), 2);
    const real = srv.mails.slice(2);
    const m1 = real.find((m) => m.to.includes(IDENTITY1))!;
    assert.deepEqual(m1.to.sort(), ["archive@example.org", IDENTITY1]);
    assert.equal(header(m1.raw, "Subject"), `Testing subject 2024-09-17 (${IDENTITY1})`);
    const parts = mimeParts(m1.raw);
    assert.equal(parts[0]!.body, "Dear network owner,\n\nplease find attached the events we know of.\n");
    assert.match(parts[1]!.headers, /filename="?events_2024-09-17\.zip"?/);
    const files = unzip(mails.find((m) => m.to === IDENTITY1)!.zip);
    assert.deepEqual(Object.keys(files), ["240917_3_events.csv"]);
    const lines = files["240917_3_events.csv"]!.split("\r\n");
    assert.equal(lines[0], "time_detected,ip,class,type,time_delivered,country_code,asn,description,malware,feed_name,feed_url,raw");
    assert.equal(lines[1], ",127.0.0.1,,,2024-09-16T10:00:00+00:00,,,,,,,line one");
    assert.equal(lines.length, 5);
    assert.equal((await store.entries()).size, 0, "sent events are removed");
  } finally {
    await b.shutdown();
    await srv.down();
  }
});

test("ignore_older_than_days and alternative_mails; a refused mail keeps its events", async () => {
  const b = await createLibraryBot(bot, { params: {} });
  const srv = await TestSmtpServer.start();
  try {
    await b.process([EVENT1, { ...EVENT2, "time.observation": "2024-01-01T00:00:00+00:00" }]);
    const store = await b.broker.kv.open(batchBucket(b.botId), 3600);
    const alt = join(tempDir("alt-"), "alt.csv");
    writeFileSync(alt, `${IDENTITY1},other@example.net\n`);
    const prm = { ...params.parse({}), email_from: "cert@example.org", mail_template: src("services/outputs/smtp_batch/fixtures/mail_template.txt"),
      smtp_server: { host: "127.0.0.1", port: srv.port }, ignore_older_than_days: 30, alternative_mails: alt };
    const mails = await prepareMails(store, prm, NOW);
    assert.deepEqual(mails.map((m) => m.to), ["other@example.net"]);
    srv.reject = 550;
    await assert.rejects(sendMails(store, prm, mails, { now: NOW }), /550/);
    assert.equal((await store.entries()).size, 2);
  } finally {
    await b.shutdown();
    await srv.down();
  }
});

test("a zip of one file that Python reads", () => {
  const text = "a,b\r\n".repeat(1000);
  assert.deepEqual(unzip(zipOne("x.csv", Buffer.from(text))), { "x.csv": text });
});
