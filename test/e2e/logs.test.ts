// SPDX-License-Identifier: AGPL-3.0-only
// The logs stream end to end: a bot run by intelmq-bot sends its pino lines to intelmq.log.<bot-id>,
// and `intelmqctl log` shows them from there even when var/log/<bot-id>.log is gone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline, waitFor } from "../helpers/pipeline.js";

interface Entry { date: string; bot_id: string; thread_id: null; log_level: string; message: string }

function ctlLog(p: TestPipeline, args: string[]): Promise<{ code: number; json: unknown; stderr: string }> {
  const argv = [join(ROOT, "bin", "intelmqctl.mjs"), "--type", "json", "log", ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { env: p.env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code, json, stderr });
    });
  });
}

describe("logs stream", { timeout: 120_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("intelmqctl log reads a bot's lines from the stream when its log file is absent", async () => {
    const id = "logs-filter";
    const p = new TestPipeline(nats.url, {
      [id]: {
        module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", description: "Filter", enabled: true,
        parameters: { filter_key: "classification.type", filter_value: "scanner", filter_action: "keep", destination_queues: { _default: ["logs-out-queue"] } },
      },
    }, { logging_level: "INFO" });
    try {
      p.start(id);
      await waitFor(() => p.log(id).includes("Bot initialization completed."), 30_000, "the bot initialized");
      rmSync(join(p.root, "var", "log", `${id}.log`));

      let r = await ctlLog(p, [id, "-1", "INFO"]);
      await waitFor(async () => {
        r = await ctlLog(p, [id, "-1", "INFO"]);
        return r.code === 0 && (r.json as Entry[]).some((e) => e.message === "Bot initialization completed.");
      }, 30_000, "the stream has the bot's initialization line");
      const entries = r.json as Entry[];
      const connected = entries.find((e) => e.message === "connected to NATS");
      assert.ok(connected, JSON.stringify(entries));
      assert.equal(connected.bot_id, id);
      assert.equal(connected.log_level, "INFO");
      assert.equal(connected.thread_id, null);
      assert.match(connected.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}$/);
      const msgs = entries.map((e) => e.message);
      assert.ok(msgs.indexOf("connected to NATS") < msgs.indexOf("Bot initialization completed."), "oldest first");

      const last = await ctlLog(p, [id, "1"]);
      assert.equal(last.code, 0);
      assert.equal((last.json as Entry[]).length, 1);
      const warnings = await ctlLog(p, [id, "-1", "WARNING"]);
      assert.equal(warnings.code, 0);
      assert.ok((warnings.json as Entry[]).every((e) => e.log_level !== "INFO"), "the level filter applies to stream lines");

      // A bot runtime.yaml does not name: a usage error, as for start and status.
      const none = await ctlLog(p, ["never-ran"]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /never-ran.*does not exist/);
    } finally {
      await p.close();
    }
  });
});
