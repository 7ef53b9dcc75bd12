// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryBroker } from "../../../shared/broker/index.js";
import { createLogger, runBot, startBot } from "../../../shared/runtime/index.js";
import { startCutProxy } from "../../../test/helpers/cut-proxy.js";
import { freePort } from "../../../test/helpers/nats-server.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import { takeQueued } from "../../../test/helpers/queued.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import bot, { opensshKey, shlexSplit } from "./index.js";

const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const QUIET = { logging_level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL", error_max_retries: 0, error_retry_delay: 0, rate_limit: 0 };

/**
 * A real rsync daemon (Debian's rsync; .ci/run installs it) on a loopback port serving the module
 * "feeds" from `dir`/feeds; in a process group of its own, so that stopping it ends the processes
 * serving transfers too.
 */
async function startRsyncd(dir: string, port: number): Promise<ChildProcess> {
  mkdirSync(join(dir, "feeds"), { recursive: true });
  const conf = join(dir, "rsyncd.conf");
  const me = userInfo();
  writeFileSync(conf, [
    `pid file = ${join(dir, "rsyncd.pid")}`, "use chroot = no", `uid = ${me.uid}`, `gid = ${me.gid}`,
    "[feeds]", `  path = ${join(dir, "feeds")}`, "  read only = yes", "",
  ].join("\n"));
  const d = spawn("rsync", ["--daemon", "--no-detach", `--config=${conf}`, `--port=${port}`, "--address=127.0.0.1", `--log-file=${join(dir, "rsyncd.log")}`], { stdio: "ignore", detached: true });
  for (let i = 0; i < 100; i++) {
    if (await new Promise<boolean>((r) => { const s = connect(port, "127.0.0.1"); s.once("connect", () => { s.destroy(); r(true); }); s.once("error", () => r(false)); })) return d;
    await sleep(50);
  }
  throw new Error("rsync daemon did not start");
}

/** The daemon and every transfer it serves end at once (SIGKILL to its process group). */
async function killRsyncd(d: ChildProcess): Promise<void> {
  if (d.exitCode !== null || d.signalCode !== null) return;
  const exited = new Promise((r) => d.once("exit", r));
  process.kill(-d.pid!, "SIGKILL");
  await exited;
}

let daemon: ChildProcess;
let port = 0;
let feeds = "";
before(async () => {
  const dir = tempDir("rsyncd-");
  feeds = join(dir, "feeds");
  port = await freePort();
  daemon = await startRsyncd(dir, port);
});
after(() => killRsyncd(daemon));

test("rsync: a file of an rsync daemon is one report; a changed file is sent again with its new content", async () => {
  writeFileSync(join(feeds, "testfile.txt"), "Lorem ipsum dolor sit amet\n");
  const temp = tempDir("rsync-copy-");
  const p = { ...QUIET, rsync_path: `rsync://127.0.0.1:${port}/feeds`, file: "testfile.txt", temp_directory: temp, name: "RsyncCollector" };
  const out = await runBot(bot, { log, params: p });
  assert.deepEqual(out.output._default!.map((r) => unb64(r.raw)), ["Lorem ipsum dolor sit amet\n"]);
  assert.equal(out.output._default![0]!["feed.name"], "RsyncCollector");
  assert.equal(readFileSync(join(temp, "testfile.txt"), "utf8"), "Lorem ipsum dolor sit amet\n", "the local copy is kept");
  writeFileSync(join(feeds, "testfile.txt"), "changed\n");
  const again = await runBot(bot, { log, params: p });
  assert.deepEqual(again.output._default!.map((r) => unb64(r.raw)), ["changed\n"]);
});

test("rsync: host::module with extra_params, and {time[...]} in the file name", async () => {
  const year = new Date().getFullYear();
  writeFileSync(join(feeds, `dated-${year}.txt`), "dated\n");
  const out = await runBot(bot, {
    log,
    params: { ...QUIET, rsync_path: "127.0.0.1::feeds", file: "dated-{time[%Y]}.txt", rsync_file_path_formatting: true, extra_params: `--port=${port} --timeout=30`, temp_directory: tempDir("rsync-copy-") },
  });
  assert.deepEqual(out.output._default!.map((r) => unb64(r.raw)), ["dated\n"]);
});

test("rsync: a missing source fails the round (IntelMQ's test_fail)", async () => {
  const b = await runBot(bot, { log, params: { ...QUIET, rsync_path: "/foobar", file: "testfile.txt", temp_directory: tempDir("rsync-copy-") } });
  assert.equal(b.output._default!.length, 0);
});

test("rsync: the connection breaks mid-transfer: no report, the last good copy stays; the next round sends the file once", async () => {
  const big = Array.from({ length: 40_000 }, (_, i) => `198.51.100.${i % 256},line ${i},${(i * 7919) % 100_003}\n`).join("");
  writeFileSync(join(feeds, "big.csv"), "old,small\n");
  const temp = tempDir("rsync-copy-");
  await using proxy = await startCutProxy(port);
  const broker = new MemoryBroker();
  const p = { ...QUIET, rsync_path: `rsync://127.0.0.1:${proxy.port}/feeds`, file: "big.csv", temp_directory: temp, run_mode: "scheduled", destination_queues: ["q"] };
  try {
    const first = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    await first.done;
    assert.deepEqual((await takeQueued(broker, "q")).map((r) => unb64(r.raw)), ["old,small\n"]);
    writeFileSync(join(feeds, "big.csv"), big);
    proxy.cutAfter(200_000, 1);
    const broken = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    await broken.done;
    assert.equal(proxy.cuts, 1);
    assert.equal(broken.stats().failure, 1);
    assert.equal(await broker.queues.depth("q"), 0, "nothing sent from a broken transfer");
    assert.equal(readFileSync(join(temp, "big.csv"), "utf8"), "old,small\n", "the local copy is not replaced by a partial one");
    const ok = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    await ok.done;
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 1);
    assert.equal(unb64(reports[0]!.raw), big);
  } finally {
    await broker.close();
  }
});

test("rsync: the daemon stops mid-transfer: no report, the last good copy stays; the next round sends the file once", async () => {
  const big = Array.from({ length: 40_000 }, (_, i) => `203.0.113.${i % 256},line ${i},${(i * 7919) % 100_003}\n`).join("");
  const dir = tempDir("rsyncd-stopping-");
  const own = await freePort();
  let d = await startRsyncd(dir, own);
  writeFileSync(join(dir, "feeds", "big.csv"), "old,small\n");
  const temp = tempDir("rsync-copy-");
  const broker = new MemoryBroker();
  // --bwlimit (KiB/s): the transfer takes long enough to stop the daemon in its middle
  const p = { ...QUIET, rsync_path: `rsync://127.0.0.1:${own}/feeds`, file: "big.csv", temp_directory: temp, extra_params: "--bwlimit=2000", run_mode: "scheduled", destination_queues: ["q"] };
  try {
    const first = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    await first.done;
    assert.deepEqual((await takeQueued(broker, "q")).map((r) => unb64(r.raw)), ["old,small\n"]);
    writeFileSync(join(dir, "feeds", "big.csv"), big);
    const broken = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    // rsync receives into a temporary file beside the copy: once it has data, the transfer is under way
    const receiving = () => readdirSync(temp).some((n) => n.startsWith(".big.csv.") && (statSync(join(temp, n), { throwIfNoEntry: false })?.size ?? 0) > 0);
    await waitFor(receiving, 10_000, "the transfer to begin", 5);
    await killRsyncd(d);
    assert.equal(await broken.done, 0);
    assert.equal(broken.stats().failure, 1);
    assert.equal(await broker.queues.depth("q"), 0, "nothing sent from a broken transfer");
    assert.equal(readFileSync(join(temp, "big.csv"), "utf8"), "old,small\n", "the local copy is not replaced by a partial one");
    d = await startRsyncd(dir, own);
    const ok = await startBot({ def: bot, botId: "rsync", broker, logger: log, params: p });
    await ok.done;
    assert.equal(ok.stats().failure, 0);
    const reports = await takeQueued(broker, "q");
    assert.equal(reports.length, 1);
    assert.equal(unb64(reports[0]!.raw), big);
  } finally {
    await broker.close();
    await killRsyncd(d);
  }
});

test("rsync: shlex splitting and the private key layout", () => {
  assert.deepEqual(shlexSplit(`-e 'ssh -p 22' --bwlimit=10 "a b" c\\ d`), ["-e", "ssh -p 22", "--bwlimit=10", "a b", "c d"]);
  const key = opensshKey("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "A".repeat(100) + "\n-----END OPENSSH PRIVATE KEY-----\n");
  assert.equal(key, `-----BEGIN OPENSSH PRIVATE KEY-----\n${"A".repeat(70)}\n${"A".repeat(30)}\n-----END OPENSSH PRIVATE KEY-----\n`);
  assert.ok(existsSync("/usr/bin/rsync") || existsSync("/bin/rsync"), "rsync is installed");
});
