// SPDX-License-Identifier: AGPL-3.0-only
// What an operator sees of the command-line tools, run as subprocesses against a real
// nats-server: a reader that goes away early (`| head -1`), failed feed lines in dumps and logs
// (a one-line reason, stacks only with --verbose), IntelMQ's `list queues` text, the paths under
// /opt/intelmq, and the small refusals (unknown bot, queue not archived, runtime.yaml without bots).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeEnvelope } from "../../shared/message/index.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { ROOT } from "../helpers/paths.js";
import { BENCH_COLUMNS, TestPipeline, waitFor } from "../helpers/pipeline.js";
import { tempDir } from "../helpers/tmp.js";

interface Run { code: number | null; stdout: string; stderr: string }

const CTL = join(ROOT, "bin", "intelmqctl.mjs");
const DUMP = join(ROOT, "bin", "intelmqdump.mjs");
/** What a JavaScript stack looks like on a terminal. */
const STACK = /file:\/\/\/|^\s+at\s|node:internal/m;

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { env: { ...env, INTELMQCTL_CONTROL_WAIT: "0.3" }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? "");
  });
}

/** Run a command whose stdout reader has gone before it writes a line (the end of `| head -1`, made certain). */
function runClosedStdout(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CTL, ...args], { env: { ...env, INTELMQCTL_CONTROL_WAIT: "0.3" }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout: "", stderr }); });
  });
}

/** A shell pipeline, as an operator types it. */
function sh(cmd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile("/bin/sh", ["-c", cmd], { env: { ...env, INTELMQCTL_CONTROL_WAIT: "0.3" }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0, stdout, stderr });
    });
  });
}

const BAD_LINE = "not-an-ip,b.example.com,http://b.example.com/y,2024-09-01 10:00:00,phishing,emotet,80,64496";
const GOOD_LINE = "192.0.2.10,a.example.com,http://a.example.com/x,2024-09-01 10:00:00,phishing,emotet,80,64496";

function report(lines: string[]): Record<string, unknown> {
  return { __type: "Report", "feed.name": "Out Feed", "time.observation": "2024-09-16T10:00:00+00:00", raw: Buffer.from(lines.join("\n") + "\n").toString("base64") };
}

describe("what the command-line tools show an operator", { timeout: 240_000 }, () => {
  let nats: NatsServer;
  let p: TestPipeline;
  before(async () => {
    nats = await startNatsServer();
    p = new TestPipeline(nats.url, {
      "out-parser": {
        module: "intelmq.bots.parsers.generic.parser_csv", name: "CSV", group: "Parser", description: "CSV",
        parameters: { columns: BENCH_COLUMNS, delimiter: ",", destination_queues: { _default: ["out-output-queue"] } },
      },
      "out-output": {
        module: "intelmq.bots.outputs.file.output", name: "File", group: "Output", description: "File",
        parameters: { file: "/opt/intelmq/var/lib/bots/out-output/events.txt" },
      },
      "out-idle": {
        module: "intelmq.bots.experts.taxonomy.expert", name: "Taxonomy", group: "Expert", description: "never started",
        parameters: { destination_queues: { _default: ["out-output-queue"] } },
      },
    }, { logging_level: "INFO" });
  });
  after(async () => {
    await p.close();
    await nats.stop();
  });

  it("status and list queues end quietly when the reader of their output goes away", async () => {
    const b = await p.broker();
    await b.queues.ensure("out-parser-queue");
    for (const args of [["status"], ["list", "queues"], ["list", "queues-and-status"], ["--type", "json", "status"]]) {
      const r = await runClosedStdout(args, p.env);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, STACK, args.join(" "));
      assert.doesNotMatch(r.stderr, /EPIPE/, args.join(" "));
    }
    for (const cmd of ["status", "list queues"]) {
      const r = await sh(`"${process.execPath}" "${CTL}" ${cmd} | head -1`, p.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split("\n").filter(Boolean).length, 1, r.stdout);
      assert.doesNotMatch(r.stderr, STACK, cmd);
    }
  });

  it("a bad feed line: the dump and the log give a one-line reason, the stack only with --verbose", async () => {
    p.start("out-parser");
    p.start("out-output");
    try {
      await p.inject("out-parser-queue", [report([GOOD_LINE, BAD_LINE])], "bad-line");
      const b = await p.broker();
      await waitFor(async () => (await b.dumps.read("out-parser")).length >= 1, 60_000, "the dump of the bad line");
      const [d] = await b.dumps.read("out-parser");
      const tb = [d!.traceback].flat().join("");
      assert.doesNotMatch(tb, STACK, tb);
      assert.equal(tb.trim().split("\n").length, 1, tb);
      assert.match(tb, /InvalidValue: invalid value 'not-an-ip' \(<class 'str'>\) for key 'source\.ip'/);

      const shown = await run(DUMP, ["out-parser"], p.env, "s 0\nq\n");
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /InvalidValue: invalid value 'not-an-ip'/);
      assert.doesNotMatch(shown.stdout + shown.stderr, STACK);

      await waitFor(async () => /Failed to parse line/.test((await run(CTL, ["log", "out-parser", "-1", "ERROR"], p.env)).stdout), 30_000, "the failure in the log");
      const log = await run(CTL, ["log", "out-parser", "-1", "ERROR"], p.env);
      assert.equal(log.code, 0, log.stderr);
      const lines = log.stdout.split("\n");
      const at = lines.findIndex((l) => / - out-parser - ERROR - Failed to parse line\.$/.test(l));
      assert.ok(at >= 0, log.stdout);
      assert.match(lines[at + 1]!, /^InvalidValue: invalid value 'not-an-ip' \(<class 'str'>\) for key 'source\.ip'/);
      assert.doesNotMatch(log.stdout + log.stderr, STACK);
      const json = await run(CTL, ["--type", "json", "log", "out-parser", "-1", "ERROR"], p.env);
      const entry = (JSON.parse(json.stdout) as { message: string; extended_message?: string }[]).find((e) => e.message === "Failed to parse line.");
      assert.match(String(entry?.extended_message), /^InvalidValue: invalid value 'not-an-ip'/);
      assert.equal(String(entry?.extended_message).split("\n").length, 1);
      const verbose = await run(CTL, ["log", "out-parser", "-1", "ERROR", "--verbose"], p.env);
      assert.match(verbose.stdout, /^\s+at .*file:\/\/\//m, "--verbose shows the stack");

      // The file output said once where /opt/intelmq/... really is.
      const said = new RegExp(`file /opt/intelmq/var/lib/bots/out-output/events\\.txt is ${p.root}/var/lib/bots/out-output/events\\.txt`);
      await waitFor(async () => said.test((await run(CTL, ["log", "out-output", "-1", "INFO"], p.env)).stdout), 30_000, "the output's line about its file");
      await waitFor(() => { try { return readFileSync(join(p.root, "var/lib/bots/out-output/events.txt"), "utf8").includes("192.0.2.10"); } catch { return false; } }, 30_000, "the good line written under the root");
    } finally {
      await p.kill("out-parser", "SIGTERM");
      await p.kill("out-output", "SIGTERM");
    }
  });

  it("debug --get-paths names the paths under /opt/intelmq and where they are", async () => {
    const text = await run(CTL, ["debug", "--get-paths"], p.env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^out-output\\.file: /opt/intelmq/var/lib/bots/out-output/events\\.txt -> ${p.root}/var/lib/bots/out-output/events\\.txt$`, "m"));
    const json = JSON.parse((await run(CTL, ["--type", "json", "debug", "--get-paths"], p.env)).stdout) as { remapped_paths: Record<string, { path: string }> };
    assert.equal(json.remapped_paths["out-output.file"]!.path, join(p.root, "var/lib/bots/out-output/events.txt"));
  });

  it("list queues prints IntelMQ's `queue - count` lines, each with the queue's fill", async () => {
    const b = await p.broker();
    await b.queues.purge("out-output-queue").catch(() => undefined);
    await b.queues.ensure("out-output-queue");
    for (let i = 0; i < 2; i++) await b.queues.publish("out-output-queue", encodeEnvelope([{ __type: "Event", "source.ip": `192.0.2.${i + 1}` }]), { msgId: `lq-${i}` });
    const r = await run(CTL, ["list", "queues"], p.env);
    assert.equal(r.code, 0, r.stderr);
    const depth = await b.queues.depth("out-parser-queue");
    // IntelMQ's `<queue> - <count>`, then the queue's fill against its limits.
    const intelmq = (out: string) => out.split("\n").filter(Boolean).map((l) => l.replace(/ \(.*\)$/, ""));
    assert.deepEqual(intelmq(r.stdout), ["out-idle-queue - 0", `out-output-queue - 2`, `out-parser-queue - ${depth}`]);
    const lines = r.stdout.split("\n").filter(Boolean);
    assert.equal(lines[0], "out-idle-queue - 0 (0 B of 1.0 GiB)", "a queue not created yet: the limit it will get");
    assert.match(lines[1]!, /^out-output-queue - 2 \(\d+ B of 1\.0 GiB\)$/);
    assert.deepEqual(intelmq((await run(CTL, ["list", "queues", "-q"], p.env)).stdout), ["out-output-queue - 2", ...(depth ? [`out-parser-queue - ${depth}`] : [])]);
    assert.equal((await run(CTL, ["list", "queues", "--sum"], p.env)).stdout.trim(), String(2 + depth));
    const qs = (await run(CTL, ["list", "queues-and-status"], p.env)).stdout.split("\n").filter(Boolean);
    assert.deepEqual(qs.slice(0, 3), r.stdout.split("\n").filter(Boolean));
    assert.deepEqual(qs.slice(3), ["Bot out-idle is stopped.", "Bot out-output is stopped.", "Bot out-parser is stopped."]);
  });

  it("log of an unknown bot is a usage error; a bot that never ran has no log yet", async () => {
    const unknown = await run(CTL, ["log", "nosuchbot"], p.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /nosuchbot.*does not exist/);
    assert.doesNotMatch(unknown.stderr, /ENOENT/);
    const idle = await run(CTL, ["log", "out-idle"], p.env);
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stdout, / - out-idle - INFO - No log file exists \(yet\)\.$/m);
  });

  it("replay of a queue that is not archived says so instead of counting nothing", async () => {
    const r = await run(CTL, ["replay", "out-output-queue", "--since", "1d", "--dry-run"], p.env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Queue out-output-queue is not archived/);
    assert.doesNotMatch(r.stdout, /Would replay 0 messages/);
  });

  it("run process --dryrun prints IntelMQ's log lines and claims no dump", async () => {
    const b = await p.broker();
    const before = (await b.dumps.read("out-parser")).length;
    const msg = JSON.stringify(report([GOOD_LINE, BAD_LINE]));
    const r = await run(CTL, ["run", "out-parser", "process", "--dryrun", "--msg", msg], p.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const all = r.stdout + r.stderr;
    assert.doesNotMatch(all, /^\{"level"/m, "no raw JSON log lines");
    assert.doesNotMatch(all, /Dumping message to dump file\./);
    assert.doesNotMatch(all, STACK);
    assert.match(all, /^out-parser: Failed to parse line\.$/m);
    assert.match(all, /^ {4}InvalidValue: invalid value 'not-an-ip'/m);
    assert.match(r.stdout, /DRYRUN: Message would be dumped now!/);
    assert.match(r.stdout, /DRYRUN: Message would be sent now to '_default'!/);
    assert.equal((await b.dumps.read("out-parser")).length, before, "nothing was dumped");
  });

  it("a runtime.yaml without bots: check fails and the tools say so", async () => {
    const root = tempDir("intelmq-empty-");
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc", "runtime.yaml"), "# nothing here yet\n");
    writeFileSync(join(root, "etc", "harmonization.conf"), readFileSync(join(ROOT, "etc", "harmonization.conf")));
    const env = { ...p.env, INTELMQ_ROOT_DIR: root };
    const check = await run(CTL, ["check", "--no-connections"], env);
    assert.equal(check.code, 1, check.stdout);
    assert.match(check.stdout, /ERROR: .*runtime\.yaml has no bots/);
    const status = await run(CTL, ["status"], env);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /runtime\.yaml has no bots\./);
  });
});
