// SPDX-License-Identifier: AGPL-3.0-only
// `npm start` end to end, each run with a temporary INTELMQ_ROOT_DIR: the default offline pipeline
// writes events and SIGINT ends everything; a second run says that the deduplicator drops what it
// saw and --fresh gives new events; a configuration `intelmqctl check` rejects starts nothing; a
// crashing bot's error is shown once; and whatever ends npm (SIGTERM, SIGINT, SIGHUP, SIGKILL)
// ends its nats-server, control service and bots, while a second npm start on the same root is
// refused.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { connectJetStream } from "../../shared/broker/index.js";
import { freePort, probeJetStream, startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { countLines, waitFor } from "../helpers/pipeline.js";
import { ROOT, src } from "../helpers/paths.js";

/** Processes whose environment has INTELMQ_ROOT_DIR=root (npm, start.mjs, nats-server, the control service, the bots). */
function processesOf(root: string): number[] {
  const needle = `INTELMQ_ROOT_DIR=${root}\0`;
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").includes(needle) && alive(Number(name))) out.push(Number(name));
    } catch { /* gone, or not ours */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is not running any more.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch { return false; }
}

/** What a process runs: nats-server, intelmq-control, intelmq-bot, start.mjs, npm. */
function kind(pid: number): string {
  let args: string[];
  try { args = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0"); } catch { return "gone"; }
  for (const k of ["nats-server", "intelmq-control", "intelmq-bot", "start.mjs"]) if (args.some((a) => a.endsWith(k) || a.endsWith(`${k}.mjs`))) return k;
  return args[0] ?? "";
}

/** A run of npm start (or scripts/start.mjs): its output so far, and its end. */
class Run {
  output = "";
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (b: Buffer) => { this.output += b.toString(); });
    child.stderr!.on("data", (b: Buffer) => { this.output += b.toString(); });
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }
  async said(re: RegExp, ms = 60_000): Promise<void> {
    await waitFor(() => re.test(this.output), ms, `npm start to say ${re}`, 100).catch((err: Error) => {
      throw new Error(`${err.message}\nnpm start said:\n${this.output}`);
    });
  }
  /** SIGINT, then wait for the exit code (SIGKILL after a minute, as a last resort). */
  async stop(): Promise<number | null> {
    this.child.kill("SIGINT");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 60_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** scripts/start.mjs run by node, as npm would, for a root. */
function startScript(root: string, env: NodeJS.ProcessEnv, args: string[] = []): Run {
  return new Run(spawn(process.execPath, [src("scripts", "start.mjs"), ...args], {
    cwd: root, env: { ...process.env, INTELMQ_ROOT_DIR: root, ...env }, stdio: ["ignore", "pipe", "pipe"],
  }));
}

/** `npm start -- <args>` in the project, detached in its own process group (as a service manager or CI would run it). */
function npmStart(root: string, args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, INTELMQ_ROOT_DIR: root };
  delete env.NATS_URL;
  return new Run(spawn("npm", ["start", "--", ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true }));
}

/** A root with etc/harmonization.conf and this runtime.yaml. */
function makeRoot(prefix: string, bots: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(root, "etc"));
  copyFileSync(src("etc", "harmonization.conf"), join(root, "etc", "harmonization.conf"));
  writeFileSync(join(root, "etc", "runtime.yaml"), stringify({ global: { logging_level: "INFO" }, ...bots }));
  roots.push(root);
  return root;
}

function fileOutput(file: string, module = "intelmq.bots.outputs.file.output"): Record<string, unknown> {
  return { "file-output": { name: "File", group: "Output", module, description: "File output", enabled: true, parameters: { file } } };
}

const roots: string[] = [];
let nats: NatsServer;
before(async () => { nats = await startNatsServer(); });
after(async () => {
  await nats.stop();
  // Whatever a failed test left running is ended, by pid.
  for (const root of roots) {
    for (const pid of processesOf(root)) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    if (!process.env.KEEP_TEST_ROOT) rmSync(root, { recursive: true, force: true });
  }
});

describe("npm start", { timeout: 300_000 }, () => {
  it("runs the default pipeline until SIGINT; a second run says the deduplicator drops what it saw; --fresh gives new events", async () => {
    const root = mkdtempSync(join(tmpdir(), "intelmq-npm-start-"));
    roots.push(root);
    cpSync(src("etc"), join(root, "etc"), { recursive: true });
    const events = join(root, "var", "lib", "bots", "file-output", "events.txt");
    const env = { NATS_URL: nats.url };

    const first = startScript(root, env);
    let seen: number[] = [];
    let count = 0;
    try {
      await waitFor(() => countLines(events) > 0, 120_000, `events in ${events}`, 250).catch((err: Error) => {
        throw new Error(`${err.message}\nnpm start said:\n${first.output}`);
      });
      seen = processesOf(root);
      assert.ok(seen.length >= 10, `the control service and 9 bots run: ${seen.length}\n${first.output}`);
      const line = JSON.parse(readFileSync(events, "utf8").split("\n")[0]!) as Record<string, unknown>;
      assert.equal(typeof line["classification.taxonomy"], "string", "the experts ran");
      assert.match(first.output, /Events are written to .*var\/lib\/bots\/file-output\/events\.txt/);
      assert.match(first.output, /intelmqctl status/);
      assert.match(first.output, /Ctrl-C/);
      assert.doesNotMatch(first.output, /deduplicator .* remembers/, "nothing to say on a first run");
      assert.ok(!existsSync(join(root, "var", "run", "nats.url")), "no nats.url for a NATS given by NATS_URL");
      // Everything of the sample feeds is out once the queues are empty; then count.
      const b = await connectJetStream({ servers: nats.url });
      try {
        await waitFor(async () => {
          for (const q of ["csv-parser-queue", "json-parser-queue", "taxonomy-expert-queue", "url2fqdn-expert-queue", "deduplicator-expert-queue", "filter-expert-queue", "file-output-queue"]) {
            if ((await b.queues.depth(q)) > 0) return false;
          }
          return true;
        }, 60_000, "the first run to drain its queues", 250);
      } finally {
        await b.close();
      }
    } finally {
      assert.equal(await first.stop(), 0, first.output);
    }
    await waitFor(() => seen.every((pid) => !alive(pid)), 10_000, "every process ended");
    assert.deepEqual(processesOf(root), [], "nothing left running");
    assert.match(first.output, /Stopped\./);
    count = countLines(events);

    // The same feeds again: the deduplicator's cache says it has seen them, and the run says so.
    const second = startScript(root, env);
    try {
      await second.said(/Press Ctrl-C to stop/);
      assert.match(second.output, /the deduplicator \(deduplicator-expert\) remembers \d+ events? of earlier runs for 1 day/);
      assert.match(second.output, /npm start -- --fresh/);
    } finally {
      assert.equal(await second.stop(), 0, second.output);
    }

    // --fresh: the queues (with their duplicate windows) and the cache are gone, events come again.
    const third = startScript(root, env, ["--fresh"]);
    try {
      await third.said(/Fresh start: emptied \d+ queues .* and the cache dedup/);
      await waitFor(() => countLines(events) > count, 120_000, "new events after --fresh", 250).catch((err: Error) => {
        throw new Error(`${err.message}\nnpm start said:\n${third.output}`);
      });
      assert.doesNotMatch(third.output, /remembers/);
    } finally {
      assert.equal(await third.stop(), 0, third.output);
    }
    await waitFor(() => processesOf(root).length === 0, 10_000, "nothing left running after --fresh");
  });

  it("refuses a configuration that intelmqctl check rejects, naming the bot, and starts nothing", async () => {
    const root = makeRoot("intelmq-npm-start-bad-", fileOutput("var/lib/bots/out.txt", "intelmq.bots.outputs.file.outptu"));
    const run = startScript(root, { NATS_URL: nats.url });
    const code = await run.exited;
    assert.equal(code, 1, run.output);
    assert.match(run.output, /has errors, nothing was started/);
    assert.match(run.output, /ERROR: Bot "file-output": module "intelmq\.bots\.outputs\.file\.outptu" is not installed/);
    assert.doesNotMatch(run.output, /Running \d+ bots/);
    assert.ok(!existsSync(join(root, "var", "log", "intelmq-control.log")), "no control service was started");
  });

  it("shows a crashing bot's last error line once, not at every restart", async () => {
    // Passes the check; fails when the bot opens its file (a path below a file).
    const root = makeRoot("intelmq-npm-start-crash-", fileOutput("etc/runtime.yaml/events.txt"));
    const run = startScript(root, { NATS_URL: nats.url });
    const controlLog = join(root, "var", "log", "intelmq-control.log");
    const starts = () => (existsSync(controlLog) ? readFileSync(controlLog, "utf8").split("\n").filter((l) => l.includes('"bot process started"')).length : 0);
    try {
      await run.said(/file-output failed: .*ENOTDIR/);
      // Two crashes have been reported once a third process starts (after 1 s and 2 s of backoff).
      await waitFor(() => starts() >= 3, 60_000, "the bot restarted twice", 100);
      assert.equal(run.output.match(/ENOTDIR/g)?.length, 1, run.output);
      assert.match(run.output, /\[warn\] file-output failed: .*etc\/runtime\.yaml\/events\.txt/);
      assert.match(run.output, /shown again only if the error changes; log: var\/log\/file-output\.log/);
    } finally {
      assert.equal(await run.stop(), 0, run.output);
    }
  });

  // Each run: npm start with its own nats-server on a free port and one bot; then npm is ended.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"] as const) {
    it(`${signal} to npm ends nats-server, the control service and the bots`, async () => {
      const root = makeRoot("intelmq-npm-start-sig-", fileOutput("var/lib/bots/out.txt"));
      const run = npmStart(root, ["--nats-port", String(await freePort())]);
      try {
        await run.said(/Press Ctrl-C to stop/);
        const kinds = () => processesOf(root).map(kind).sort();
        await waitFor(() => ["intelmq-bot", "intelmq-control", "nats-server", "start.mjs"].every((k) => kinds().includes(k)), 60_000, "the whole tree").catch((err: Error) => {
          throw new Error(`${err.message}: ${kinds().join(", ")}\n${run.output}`);
        });
        if (signal === "SIGTERM") {
          // Not an open server: a client without credentials is refused; intelmqctl finds the operators' own.
          const url = readFileSync(join(root, "var", "run", "nats.url"), "utf8").trim();
          await assert.rejects(probeJetStream(Number(new URL(url).port)), /Authorization Violation/);
          assert.ok(existsSync(join(root, "var", "lib", "nats-auth", "creds", "file-output.creds")), "the bot's own credentials");
          assert.equal(statSync(join(root, "var", "lib", "nats-auth", "creds", "admin.creds")).mode & 0o077, 0, "credentials only their owner reads");
          const env: NodeJS.ProcessEnv = { ...process.env, INTELMQ_ROOT_DIR: root };
          delete env.NATS_URL;
          const st = spawnSync(process.execPath, [src("bin", "intelmqctl.mjs"), "status", "file-output"], { env, encoding: "utf8", timeout: 60_000 });
          assert.equal(st.status, 0, st.stdout + st.stderr);
          assert.match(st.stdout, /file-output is running/);
          // A second npm start on the same root is refused and starts nothing.
          const before = processesOf(root).length;
          const second = npmStart(root, ["--nats-port", String(await freePort())]);
          assert.equal(await second.exited, 1, second.output);
          assert.match(second.output, new RegExp(`npm start is already running for ${root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(pid \\d+, NATS at nats://127\\.0\\.0\\.1:\\d+\\): nothing was started`));
          assert.equal(processesOf(root).length, before, "nothing more runs");
        }
        process.kill(run.child.pid!, signal);
        await waitFor(() => processesOf(root).length === 0, 60_000, "nothing of the run left").catch((err: Error) => {
          throw new Error(`${err.message}: ${processesOf(root).map((p) => `${p} ${kind(p)}`).join(", ")}\n${run.output}`);
        });
        assert.ok(!existsSync(join(root, "var", "run", "nats.url")), "nats.url is removed with its server");
      } finally {
        if (run.child.exitCode === null && run.child.signalCode === null) try { process.kill(-run.child.pid!, "SIGKILL"); } catch { /* gone */ }
      }
    });
  }
});
