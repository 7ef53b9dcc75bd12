// SPDX-License-Identifier: AGPL-3.0-only
// `npm start` end to end: scripts/start.mjs with a temporary INTELMQ_ROOT_DIR holding a copy of
// etc/ and a nats-server of the test's own (NATS_URL): the default offline pipeline writes events
// within seconds, and SIGINT (Ctrl-C) ends the control service and every bot process.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { countLines, waitFor } from "../helpers/pipeline.js";
import { src } from "../helpers/paths.js";

/** Processes whose environment has INTELMQ_ROOT_DIR=root (the control service and the bots). */
function processesOf(root: string): number[] {
  const needle = `INTELMQ_ROOT_DIR=${root}\0`;
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").includes(needle)) out.push(Number(name));
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

let nats: NatsServer;
let root: string;
before(async () => {
  nats = await startNatsServer();
  root = mkdtempSync(join(tmpdir(), "intelmq-npm-start-"));
  cpSync(src("etc"), join(root, "etc"), { recursive: true });
});
after(async () => {
  await nats.stop();
  if (!process.env.KEEP_TEST_ROOT) rmSync(root, { recursive: true, force: true });
});

describe("npm start", { timeout: 300_000 }, () => {
  it("runs the default pipeline until SIGINT, then nothing of it is left running", async () => {
    const child = spawn(process.execPath, [src("scripts", "start.mjs")], {
      cwd: root,
      env: { ...process.env, INTELMQ_ROOT_DIR: root, NATS_URL: nats.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (b: Buffer) => { output += b.toString(); });
    child.stderr.on("data", (b: Buffer) => { output += b.toString(); });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const events = join(root, "var", "lib", "bots", "file-output", "events.txt");
    let seen: number[] = [];
    try {
      await waitFor(() => countLines(events) > 0, 120_000, `events in ${events}`, 250).catch((err: Error) => {
        throw new Error(`${err.message}\nnpm start said:\n${output}`);
      });
      seen = processesOf(root);
      assert.ok(seen.length >= 10, `the control service and 9 bots run: ${seen.length}\n${output}`);
      const first = JSON.parse(readFileSync(events, "utf8").split("\n")[0]!) as Record<string, unknown>;
      assert.equal(typeof first["classification.taxonomy"], "string", "the experts ran");
      assert.match(output, /Events are written to .*var\/lib\/bots\/file-output\/events\.txt/);
      assert.match(output, /intelmqctl status/);
      assert.match(output, /Ctrl-C/);
      assert.ok(!existsSync(join(root, "var", "run", "nats.url")), "no nats.url for a NATS given by NATS_URL");
    } finally {
      child.kill("SIGINT");
      const code = await exited;
      assert.equal(code, 0, output);
    }
    await waitFor(() => seen.every((pid) => !alive(pid)), 5000, "every process ended");
    assert.deepEqual(processesOf(root).filter(alive), [], "nothing left running");
    assert.match(output, /Stopped\./);
  });
});
