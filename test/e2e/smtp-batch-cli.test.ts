// SPDX-License-Identifier: AGPL-3.0-only
/**
 * smtp_batch on a real nats-server: the bot (an intelmq-bot process) keeps the events in its KV
 * bucket, `intelmq-smtp-batch` lists them and sends one mail per recipient to a real SMTP server,
 * after which nothing is left to send.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../helpers/nats-server.js";
import { TestPipeline, waitFor } from "../helpers/pipeline.js";
import { ROOT } from "../helpers/paths.js";
import { TestSmtpServer, header } from "../helpers/smtp.js";

function cli(p: TestPipeline, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin", "intelmq-smtp-batch.mjs"), ...args], { env: p.env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("intelmq-smtp-batch lists and sends what the running bot kept", { timeout: 120_000 }, async () => {
  const nats = await startNatsServer();
  const srv = await TestSmtpServer.start();
  const p = new TestPipeline(nats.url, {});
  const template = join(p.root, "etc", "mail_template.txt");
  writeFileSync(template, "Dear network owner,\n\nsee the attachment.\n");
  p.writeConfig({
    "batch-output": {
      module: "intelmq.bots.outputs.smtp_batch.output", name: "SMTP batch", group: "Output", enabled: true,
      parameters: { email_from: "cert@example.org", mail_template: template, smtp_server: `127.0.0.1:${srv.port}`, subject: "Events (%Y)" },
    },
  });
  try {
    p.start("batch-output");
    const events = [];
    for (let i = 0; i < 30; i++) {
      events.push({ __type: "Event", "source.ip": `192.0.2.${i + 1}`, "source.abuse_contact": `abuse${i % 3}@example.net`, "time.observation": new Date().toISOString().slice(0, 19) + "+00:00" });
    }
    await p.inject("batch-output-queue", events);
    const b = await p.broker();
    await waitFor(async () => (await b.queues.depth("batch-output-queue")) === 0, 60_000, "the bot to keep the events");
    const listed = await cli(p, "batch-output");
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((listed.stdout.match(/^To: abuse\d@example\.net; Events: 10,/gm) ?? []).length, 3, listed.stdout);
    const sent = await cli(p, "batch-output", "--send");
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /3× mail sent\./);
    assert.deepEqual(srv.mails.map((m) => m.to[0]).sort(), ["abuse0@example.net", "abuse1@example.net", "abuse2@example.net"]);
    assert.match(header(srv.mails[0]!.raw, "Subject")!, /^Events \(\d{4}\) \(abuse\d@example\.net\)$/);
    const after = await cli(p, "batch-output");
    assert.match(after.stdout, /No mails in queue/);
  } finally {
    await p.close();
    await nats.stop();
    await srv.down();
  }
});
