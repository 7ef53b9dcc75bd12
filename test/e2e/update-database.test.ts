// SPDX-License-Identifier: AGPL-3.0-only
// A database update reaching a running bot, through a real nats-server: the tor_nodes expert runs
// as a process, `intelmqctl update-database <bot-id>` downloads a new list from a loopback server
// and swaps the file, and the running bot marks the next event by the new list, without a restart.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeEnvelope, encodeEnvelope } from "../../shared/message/index.js";
import { take } from "../../shared/broker/testing.js";
import { serveFiles, type FileServer } from "../helpers/http-file.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline, waitFor } from "../helpers/pipeline.js";

const event = (ip: string) => ({ __type: "Event", "source.ip": ip, "classification.type": "scanner", "time.observation": "2024-09-16T10:00:00+00:00" });

function ctl(p: TestPipeline, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin", "intelmqctl.mjs"), ...args], { env: p.env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

describe("a database update reaches a running bot", { timeout: 120_000 }, () => {
  let nats: NatsServer;
  let srv: FileServer;
  before(async () => {
    nats = await startNatsServer();
    srv = await serveFiles({ "/tor.txt": [200, "# new list\n192.0.2.99\n"] });
  });
  after(async () => {
    await srv.close();
    await nats.stop();
  });

  it("intelmqctl update-database swaps the file and the bot uses it without a restart", async () => {
    const bots = (database: string) => ({
      "tor-expert": {
        module: "intelmq.bots.experts.tor_nodes.expert", name: "Tor", group: "Expert", enabled: true,
        parameters: { database, database_url: `${srv.base}/tor.txt`, destination_queues: { _default: ["tor-out-queue"] } },
      },
    });
    const p = new TestPipeline(nats.url, bots(""));
    try {
      const dbFile = join(p.root, "var", "lib", "bots", "tor_nodes.dat");
      p.writeConfig(bots(dbFile));
      writeFileSync(dbFile, "192.0.2.7\n");
      const b = await p.broker();
      await b.queues.ensure("tor-expert-queue");
      await b.queues.ensure("tor-out-queue");
      const proc = p.start("tor-expert");
      const out = await b.queues.consume("tor-out-queue");
      const it = out[Symbol.asyncIterator]();
      const marked = async (ip: string, n: number): Promise<unknown> => {
        await b.queues.publish("tor-expert-queue", encodeEnvelope([event(ip)]), { msgId: `tor:${n}` });
        const [d] = await take(it, 1, 30_000);
        await d!.ack();
        return decodeEnvelope(d!.data)[0]!["source.tor_node"];
      };
      assert.equal(await marked("192.0.2.7", 1), true, "the first list marks 192.0.2.7");
      assert.equal(await marked("192.0.2.99", 2), undefined, "192.0.2.99 is not on the first list");

      const r = await ctl(p, ["update-database", "tor-expert"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(dbFile, "utf8"), /192\.0\.2\.99/);

      // The running bot reloads the replaced file on its own (it watches the directory).
      let n = 3;
      await waitFor(async () => (await marked("192.0.2.99", n++)) === true, 20_000, "the running bot marking by the new list");
      assert.equal(await marked("192.0.2.7", n++), undefined, "the old list is gone");
      assert.equal(proc.child.exitCode, null, "the bot was not restarted");
      assert.equal(p.procs.get("tor-expert")?.child.pid, proc.child.pid);
      await out.stop();
    } finally {
      await p.close();
    }
  });
});
