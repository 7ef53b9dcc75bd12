// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The SMTP output at the end of a real pipeline (CSV parser -> smtp output, as intelmq-bot
 * processes on a nats-server of their own) sending to a real SMTP server on loopback: 10,000
 * events, one mail each, while the server goes away (a proxy in front of it cut and restored)
 * and the output is SIGKILLed; it resumes by itself.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { startNatsServer } from "../helpers/nats-server.js";
import { BENCH_COLUMNS, TestPipeline, benchReport, sleep, waitFor } from "../helpers/pipeline.js";
import { writeWorkload } from "../helpers/workload.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { TestSmtpServer, header } from "../helpers/smtp.js";

const REPORTS = 10;
const LINES = 1_000;
const EVENTS = REPORTS * LINES;

describe("smtp output end to end", { timeout: 600_000 }, () => {
  it("10,000 mails, each event's once, through a cut connection to the server and a SIGKILL of the output", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smtp-e2e-"));
    const files = writeWorkload(dir, { reports: REPORTS, lines: LINES, dupEvery: 0, seed: 12 });
    const expected = new Set<string>();
    for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) expected.add(line.split(",")[2]!);
    const reports = files.map(benchReport);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(expected.size, EVENTS);

    const srv = await TestSmtpServer.start();
    const proxy = await TcpProxy.start(srv.port);
    const nats = await startNatsServer();
    const p = new TestPipeline(nats.url, {
      "mail-parser": {
        module: "intelmq.bots.parsers.generic.parser_csv", name: "Generic CSV", group: "Parser", enabled: true,
        parameters: { columns: BENCH_COLUMNS, delimiter: ",", default_url_protocol: "http://", destination_queues: { _default: ["mail-output-queue"] } },
      },
      "mail-output": {
        module: "intelmq.bots.outputs.smtp.output", name: "SMTP", group: "Output", enabled: true,
        parameters: {
          smtp_host: "127.0.0.1", smtp_port: proxy.port, starttls: false, mail_from: "cert@example.org", mail_to: "abuse@example.net",
          subject: "{ev[source.url]}", fieldnames: "source.ip,source.url,time.source", text: "Dear network owner,\n\n{ev[classification.type]} seen.",
        },
      },
    }, { error_retry_delay: 1 });
    try {
      p.start("mail-parser");
      p.start("mail-output");
      const injecting = (async () => {
        for (let i = 0; i < reports.length; i++) {
          await p.inject("mail-parser-queue", [reports[i]!], `r${i}`);
          await sleep(2_000);
        }
      })();
      await waitFor(() => srv.mails.length > 0, 60_000, "the first mails");
      assert.ok(srv.mails.length < EVENTS / 2, `disturbed while the events are coming (${srv.mails.length} mails in)`);
      await proxy.down();
      await sleep(4_000);
      await proxy.up();
      await sleep(1_500);
      await p.kill("mail-output", "SIGKILL");
      p.start("mail-output");
      assert.ok(srv.mails.length < EVENTS, `events still coming after the disturbance (${srv.mails.length} mails in)`);
      await injecting;
      const b = await p.broker();
      await waitFor(async () => srv.mails.length >= EVENTS && (await b.queues.depth("mail-output-queue")) === 0 && (await b.queues.depth("mail-parser-queue")) === 0,
        300_000, `${EVENTS} mails`, 500).catch((err: Error) => {
        throw new Error(`${err.message} (mails ${srv.mails.length}); output log:\n${p.log("mail-output").slice(-3000)}`);
      });
      await sleep(1500); // anything late would show up now
      const seen = new Map<string, number>();
      for (const m of srv.mails) {
        const u = header(m.raw, "Subject") ?? "";
        seen.set(u, (seen.get(u) ?? 0) + 1);
        assert.deepEqual(m.to, ["abuse@example.net"]);
      }
      const duplicated = [...seen.values()].filter((n) => n > 1).length;
      const missing = [...expected].filter((u) => !seen.has(u)).length;
      // A mail the server took whose 250 was lost with the cut connection is sent again: SMTP cannot
      // tell (RFC 1047); at most the mails in flight at the cut and at the kill (4 connections each).
      assert.equal(missing, 0);
      assert.ok(duplicated <= 8, `${duplicated} duplicated`);
      assert.ok(srv.mails.length <= EVENTS + 8);
      assert.equal((await b.dumps.read()).length, 0, "nothing in the dumps");
      assert.match(p.log("mail-output"), /The destination is unavailable; the message waits for it/);
      process.stderr.write(`smtp e2e: ${srv.mails.length} mails, ${duplicated} duplicated, ${proxy.connections} connections\n`);
    } finally {
      await p.close();
      await nats.stop();
      await proxy.down();
      await srv.down();
    }
  });
});
