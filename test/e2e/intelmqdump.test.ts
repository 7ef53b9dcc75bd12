// SPDX-License-Identifier: AGPL-3.0-only
// intelmqdump as a subprocess against a real nats-server: listing the bots with dumps, showing
// (with raw truncated), recovering into the stored or a named queue (an Event for a parser
// becomes a Report), deleting, editing with $EDITOR, and refusing all but q(uit) for a bot that
// is not configured.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Broker, DumpEntry } from "../../shared/broker/index.js";
import { decodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline } from "../helpers/pipeline.js";

interface Run { code: number; stdout: string; stderr: string }

function dump(p: TestPipeline, args: string[], input: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, "bin", "intelmqdump.mjs"), ...args], { env: { ...p.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

function entry(botId: string, ip: string, extra: Record<string, unknown> = {}): DumpEntry {
  return {
    bot_id: botId, source_queue: `${botId}-queue`, timestamp: `2024-09-16T10:00:0${ip.slice(-1)}.000000`,
    traceback: ["Traceback (most recent call last):", `ValueError: failed on ${ip}`],
    message: JSON.stringify({ __type: "Event", "feed.name": "Dump Feed", "source.ip": ip, "classification.type": "scanner", ...extra }),
  };
}

async function taken(b: Broker, queue: string): Promise<Record<string, unknown>[]> {
  const sub = await b.queues.consume(queue);
  const d = (await sub[Symbol.asyncIterator]().next()).value!;
  await d.ack();
  await sub.stop();
  return decodeEnvelope(d.data, d.headers["Content-Type"]);
}

describe("intelmqdump", { timeout: 120_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("lists, shows, recovers, deletes and edits the dumps of a bot", async () => {
    const p = new TestPipeline(nats.url, {
      "dp-parser": {
        module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", enabled: true,
        parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["dp-filter-queue"] } },
      },
      "dp-filter": {
        module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", enabled: true,
        parameters: { filter_key: "classification.type", filter_value: "scanner", filter_action: "keep", destination_queues: { _default: ["dp-output-queue"] } },
      },
      "dp-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: "var/lib/bots/out.txt" } },
    });
    try {
      const b = await p.broker();
      await b.dumps.store(entry("dp-filter", "192.0.2.1"));
      await b.dumps.store(entry("dp-filter", "192.0.2.2"));
      await b.dumps.store(entry("dp-filter", "192.0.2.3", { raw: "QUFB".repeat(500) }));
      await b.dumps.store(entry("dp-parser", "192.0.2.4", { raw: Buffer.from("192.0.2.4,a.example.com\n").toString("base64") }));
      await b.dumps.store(entry("ghost", "192.0.2.5"));

      const list = await dump(p, [], "q\n");
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /0: dp-filter\s+3 dumps\n\s+1: dp-parser\s+1 dumps\n\s+2: ghost\s+1 dumps\n/);

      const edited = join(p.root, "editor.sh");
      writeFileSync(edited, "#!/bin/sh\nsed -i 's/192.0.2.2\"/192.0.2.22\"/' \"$1\"\n");
      chmodSync(edited, 0o755);
      const s = await dump(p, ["dp-filter", "-t", "10"], "s 2\nr 0\nd 1\nr 0 nowhere-queue\ne 0\nq\n", { EDITOR: edited });
      assert.equal(s.code, 0, s.stderr);
      assert.match(s.stdout, /Processing dp-filter: 3 dumps\n\s+0: 2024-09-16T10:00:01\.000000 ValueError: failed on 192\.0\.2\.1\n/);
      assert.match(s.stdout, /"raw": "QUFBQUFBQU\.\.\.\[truncated\]"/, "raw cut at 10 characters");
      assert.match(s.stdout, /Recovered dump 2024-09-16T10:00:01\.000000 into dp-filter-queue\./);
      assert.match(s.stdout, /Deleted 1 dumps\./);
      assert.match(s.stdout, /'nowhere-queue' is not the source queue of a configured bot; not recovered\./);
      assert.match(s.stdout, /Entry 2024-09-16T10:00:02\.000000 changed\./);
      const left = await b.dumps.read("dp-filter");
      assert.equal(left.length, 1);
      assert.equal((JSON.parse(left[0]!.message) as Record<string, unknown>)["source.ip"], "192.0.2.22", "the edited message");
      assert.deepEqual((await taken(b, "dp-filter-queue")).map((m) => m["source.ip"]), ["192.0.2.1"]);

      // Into a parser's queue an Event becomes a Report; the bot's dumps are then gone.
      const all = await dump(p, ["dp-parser"], "a\n");
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stdout, /Nothing to do: no dumps of dp-parser\./);
      const [report] = await taken(b, "dp-parser-queue");
      assert.equal(report!.__type, "Report");
      assert.equal(report!["feed.name"], "Dump Feed");

      const ghost = await dump(p, ["ghost"], "r 0\nd\nq\n");
      assert.match(ghost.stdout, /ghost is not in runtime\.yaml: only q\(uit\) is possible\./);
      assert.equal((await b.dumps.read("ghost")).length, 1, "nothing done for a bot that is not configured");

      const none = await dump(p, ["dp-output"], "");
      assert.match(none.stdout, /Nothing to do: no dumps of dp-output\./);
    } finally {
      await p.close();
    }
  });
});
