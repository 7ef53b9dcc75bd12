// SPDX-License-Identifier: AGPL-3.0-only
// Messages that fail: an expert killed between publish and ack with nothing downstream to drop repeats, 2 MB reports that fail whole, a message that kills its bot.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { TestPipeline, benchBots } from "../helpers/pipeline.js";
import { join } from "node:path";
import { countLines, sleep, waitFor } from "../helpers/pipeline.js";
import { OUT, REPORTS, dumpsOf, injectGradually, workload } from "../helpers/faults.js";

describe("message ids", { timeout: 300_000 }, () => {
  it("an expert SIGKILLed between publishing and acknowledging republishes the same ids: with no deduplicator downstream, each line once", async () => {
    const nats = await startNatsServer();
    const bots = benchBots(OUT);
    // parser -> taxonomy -> output: nothing downstream would drop a repeated envelope
    (bots["bench-taxonomy"] as { parameters: Record<string, unknown> }).parameters.destination_queues = { _default: ["bench-output-queue"] };
    delete bots["bench-deduplicator"];
    const p = new TestPipeline(nats.url, bots);
    try {
      for (const id of ["bench-parser", "bench-taxonomy", "bench-output"]) p.start(id);
      const out = join(p.root, OUT);
      // reports for ~6 s, longer than five restarts take (see faults-output.test.ts)
      const injecting = injectGradually(p, 600);
      let kills = 0;
      for (let k = 0; k < 5; k++) {
        const before = countLines(out);
        await waitFor(() => countLines(out) > before || before >= REPORTS * 1000, 60_000, "events flowing");
        await p.kill("bench-taxonomy", "SIGKILL");
        if (countLines(out) < REPORTS * 1000) kills++;
        p.start("bench-taxonomy");
      }
      await injecting;
      assert.ok(kills >= 4, `killed ${kills} times while events flowed`);
      const b = await p.broker();
      await waitFor(async () => countLines(out) >= REPORTS * 1000 && (await b.queues.depth("bench-taxonomy-queue")) === 0 && (await b.queues.depth("bench-output-queue")) === 0, 240_000, "every line");
      await sleep(1500);
      // The output holds every input line once: the workload's own repeats, and nothing more.
      const want = new Map<string, number>();
      for (const f of workload().files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) want.set(line.split(",")[2]!, (want.get(line.split(",")[2]!) ?? 0) + 1);
      const got = new Map<string, number>();
      for (const line of readFileSync(out, "utf8").split("\n")) {
        if (!line) continue;
        const u = String((JSON.parse(line) as Record<string, unknown>)["source.url"]);
        got.set(u, (got.get(u) ?? 0) + 1);
      }
      assert.equal(countLines(out), REPORTS * 1000);
      assert.deepEqual([...got].filter(([u, n]) => want.get(u) !== n), []);
    } finally {
      await p.close();
      await nats.stop();
    }
  });
});

describe("reports that fail whole", { timeout: 300_000 }, () => {
  let nats: NatsServer;
  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });

  it("2 MB reports that fail whole are dumped (recoverable with intelmqdump) without holding up the good ones; SIGTERM still stops the bot", async () => {
    const p = new TestPipeline(nats.url, {
      "big-parser": {
        module: "intelmq.bots.parsers.json.parser", name: "JSON", group: "Parser", enabled: true,
        parameters: { multiple_events: true, error_retry_delay: 4, error_max_retries: 2, logging_level: "INFO", destination_queues: { _default: ["big-output-queue"] } },
      },
      "big-output": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: "var/lib/bots/out.txt" } },
    });
    try {
      const bad = (i: number) => ({
        __type: "Report", "feed.name": "Big", raw: Buffer.from(`{"not json ${i}` + "x".repeat(2_000_000)).toString("base64"),
      });
      const good = (i: number) => ({
        __type: "Report", "feed.name": "Good", raw: Buffer.from(JSON.stringify([{ __type: "Event", "source.ip": `192.0.2.${i}`, "classification.type": "scanner" }])).toString("base64"),
      });
      p.start("big-output");
      const parser = p.start("big-parser");
      await p.inject("big-parser-queue", Array.from({ length: 10 }, (_, i) => bad(i)), "bad");
      await p.inject("big-parser-queue", [good(1), good(2)], "good");
      const out = join(p.root, "var/lib/bots/out.txt");
      await waitFor(() => countLines(out) === 2, 60_000, "the good reports' events");
      assert.equal(await dumpsOf(p, "big-parser"), 0, "the good reports went out while the bad ones were still retried");
      await waitFor(async () => (await dumpsOf(p, "big-parser")) === 10, 120_000, "10 dumps");
      const dumps = await (await p.broker()).dumps.read("big-parser");
      assert.ok(dumps.every((d) => JSON.parse(d.message).raw.length > 2_000_000), "each dump holds its whole report");
      assert.match(String(dumps[0]!.traceback), /JSON|json|Unexpected|Expected/);

      // One recovered with intelmqdump goes back into the parser's queue and fails again: dumped again.
      await p.kill("big-parser", "SIGTERM");
      assert.equal(await parser.exited, 0);
      const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
        const child = execFile(process.execPath, [join(ROOT, "bin", "intelmqdump.mjs"), "big-parser"], { env: p.env, timeout: 60_000 }, (err, stdout) => {
          resolve({ code: err ? 1 : 0, stdout });
        });
        child.stdin!.end("r 0\nq\n");
      });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(await dumpsOf(p, "big-parser"), 9);
      assert.equal(await (await p.broker()).queues.depth("big-parser-queue"), 1, "recovered into its queue");

      // SIGTERM while a bad report waits for its retry: the bot stops at once, the report stays queued.
      const waits = () => p.log("big-parser").split("Bot will continue in 4 seconds.").length - 1;
      const before = waits();
      const again = p.start("big-parser");
      await waitFor(() => waits() > before, 30_000, "a retry wait");
      again.child.kill("SIGTERM");
      const code = await Promise.race([again.exited, sleep(8_000).then(() => "still running")]);
      assert.equal(code, 0, "stopped within its stop timeout");
      assert.equal(await (await p.broker()).queues.depth("big-parser-queue"), 1, "the report stays in its queue");
    } finally {
      await p.close();
    }
  });

  it("a message that kills its bot on every delivery is dumped after error_max_deliveries, and the next one goes through", async () => {
    const p = new TestPipeline(nats.url, {
      "deadly": {
        module: "./bots/deadly.mjs", name: "Deadly", group: "Expert", enabled: true,
        parameters: { error_max_deliveries: 3, destination_queues: { _default: ["deadly-out-queue"] } },
      },
      "deadly-out": { module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", enabled: true, parameters: { file: "var/lib/bots/out.txt" } },
    }, { queue_ack_wait: 2 });
    try {
      // An operator's own bot (module: a file): it kills its process on events with feed.code "poison".
      mkdirSync(join(p.root, "bots"));
      const runtime = join(ROOT, "dist", "shared", "runtime", "index.js");
      writeFileSync(join(p.root, "bots", "deadly.mjs"), `
const { defineBot, z } = await import(${JSON.stringify(runtime)});
export default defineBot({
  kind: "expert", name: "deadly", intelmq: "deadly", description: "kills its process on poison", params: z.object({}),
  create: () => ({ process(e) { if (e.get("feed.code") === "poison") process.kill(process.pid, "SIGKILL"); return e; } }),
});
`);

      p.start("deadly-out");
      const ev = (code: string, ip: string) => ({ __type: "Event", "feed.code": code, "source.ip": ip, "classification.type": "scanner" });
      await p.inject("deadly-queue", [ev("poison", "192.0.2.66")], "poison");
      await p.inject("deadly-queue", [ev("fine", "192.0.2.1")], "fine");
      // The bot is started again after every death (as the control service does) until the good
      // event is out and the poison dumped; which of the two a start takes first is up to JetStream.
      const b = await p.broker();
      let deaths = 0;
      for (;;) {
        const proc = p.start("deadly");
        const done = () => waitFor(async () => countLines(join(p.root, "var/lib/bots/out.txt")) === 1 && (await b.dumps.read("deadly")).length === 1, 60_000, "the good event out and the poison dumped");
        const code = await Promise.race([proc.exited, done().then(() => "done")]);
        if (code === "done") break;
        deaths++;
        assert.ok(deaths <= 3, "dumped after 3 failed deliveries");
      }
      assert.equal(deaths, 3);
      const dumps = await b.dumps.read("deadly");
      assert.equal(dumps.length, 1);
      assert.match(String(dumps[0]!.traceback), /3 deliveries of this message failed.*process ended/);
      assert.equal(JSON.parse(dumps[0]!.message)["feed.code"], "poison");
    } finally {
      await p.close();
    }
  });
});
