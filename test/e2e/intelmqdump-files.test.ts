// SPDX-License-Identifier: AGPL-3.0-only
// intelmqdump --export and --import against a real nats-server: IntelMQ's dump file recovers into
// our queue, and exported, imported and exported again is the same file.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Broker } from "../../shared/broker/index.js";
import { decodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline } from "../helpers/pipeline.js";

interface Run { code: number; stdout: string; stderr: string }

function dump(p: TestPipeline, args: string[], input = ""): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, "bin", "intelmqdump.mjs"), ...args], { env: p.env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

async function takeN(b: Broker, queue: string, n: number): Promise<Record<string, unknown>[]> {
  const sub = await b.queues.consume(queue);
  const out: Record<string, unknown>[] = [];
  for await (const d of sub) {
    out.push(...decodeEnvelope(d.data, d.headers["Content-Type"]));
    await d.ack();
    if (out.length >= n) break;
  }
  await sub.stop();
  return out;
}

const INTELMQ_FILE = join(ROOT, "cli", "fixtures", "dumps", "dp-filter.dump");

describe("intelmqdump --export / --import", { timeout: 120_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("moves IntelMQ's dump files both ways unchanged and recovers them into our queue", async () => {
    const p = new TestPipeline(nats.url, {
      "dp-filter": {
        module: "intelmq.bots.experts.filter.expert", name: "Filter", group: "Expert", enabled: true,
        parameters: { filter_key: "classification.type", filter_value: "scanner", filter_action: "keep", destination_queues: { _default: ["dp-output-queue"] } },
      },
      "dp-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: "var/lib/bots/out.txt" } },
    });
    try {
      const b = await p.broker();
      const imported = await dump(p, ["--import", INTELMQ_FILE]);
      assert.equal(imported.code, 0, imported.stderr + imported.stdout);
      assert.match(imported.stdout, /Imported 3 dumps from .*dp-filter\.dump\./);
      const again = await dump(p, ["--import", INTELMQ_FILE]);
      assert.match(again.stdout, /Imported 0 dumps .*\(3 were there already\)/);
      assert.equal((await b.dumps.read("dp-filter")).length, 3);

      const first = join(p.root, "first.dump");
      const ex = await dump(p, ["--export", first, "dp-filter"]);
      assert.equal(ex.code, 0, ex.stderr);
      assert.equal(readFileSync(first, "utf8"), readFileSync(INTELMQ_FILE, "utf8"), "exported as IntelMQ wrote it");

      // A folder: one <bot-id>.dump per bot, read back by --import of the folder.
      const dir = join(p.root, "dumps");
      mkdirSync(dir);
      await b.dumps.store({ bot_id: "dp-output", source_queue: "dp-output-queue", traceback: ["OSError: disk full"], message: '{"__type": "Event", "source.ip": "192.0.2.9"}', timestamp: "2024-09-17T08:00:00" });
      assert.equal((await dump(p, ["--export", dir])).code, 0);
      assert.deepEqual(readdirSync(dir).sort(), ["dp-filter.dump", "dp-output.dump"]);
      assert.equal(readFileSync(join(dir, "dp-filter.dump"), "utf8"), readFileSync(INTELMQ_FILE, "utf8"));
      for (const d of await b.dumps.read()) await b.dumps.delete(d.seq);
      assert.match((await dump(p, ["--import", dir])).stdout, /Imported 3 dumps[^\n]*\nImported 1 dumps/);
      const second = join(p.root, "second.dump");
      await dump(p, ["--export", second, "dp-filter"]);
      assert.equal(readFileSync(second, "utf8"), readFileSync(first, "utf8"), "exported, imported and exported again");

      // Recovered as any dump: the two events go back into the filter's queue.
      const rec = await dump(p, ["dp-filter"], "r 0,1\nq\n");
      assert.equal(rec.code, 0, rec.stderr);
      assert.match(rec.stdout, /Recovered dump 2024-09-16T10:00:01\.123456 into dp-filter-queue\./);
      const got = await takeN(b, "dp-filter-queue", 2);
      assert.deepEqual(got.map((m) => m["source.ip"]).sort(), ["192.0.2.1", "192.0.2.2"]);
      assert.equal(got.find((m) => m["source.ip"] === "192.0.2.1")!["event_description.text"], "Café – scan");
      assert.equal((await b.dumps.read("dp-filter")).length, 1, "the base64 entry is left");
    } finally {
      await p.close();
    }
  });
});
