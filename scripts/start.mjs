// SPDX-License-Identifier: AGPL-3.0-only
// `npm start [-- --fresh] [-- --nats-port N]`: installs what is missing, builds, checks the
// configuration as `intelmqctl check` does, finds NATS (NATS_URL, else global nats_servers of
// runtime.yaml, else a local nats-server it starts), then runs the control service, which runs
// every enabled bot of etc/runtime.yaml as its own process. Everything stops on SIGINT (Ctrl-C),
// SIGTERM or SIGHUP, and when the process that started it (npm, the terminal) ends.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Where the code lives (package.json, dist/, bin/). */
const project = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the configuration and the data live (IntelMQ's INTELMQ_ROOT_DIR). */
const root = process.env.INTELMQ_ROOT_DIR ? resolve(process.env.INTELMQ_ROOT_DIR) : project;
// The reader of our output may be gone (npm killed, a closed pipe): never die of that.
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);
const say = (msg) => process.stdout.write(`${msg}\n`);
const shown = (p) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
};

const USAGE = `Usage: npm start [-- --fresh] [-- --nats-port PORT]
  --fresh            empty the queues of etc/runtime.yaml and the bots' caches (the deduplicator's)
                     before the bots start, so that the sample feeds give events again
  --nats-port PORT   first port to try for the local nats-server (default 4222)`;
const opts = { fresh: false, natsPort: 4222 };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--fresh") opts.fresh = true;
    else if (a === "--nats-port" || a.startsWith("--nats-port=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0 || n > 65535) {
        process.stderr.write(`npm start: invalid --nats-port ${JSON.stringify(v ?? "")}\n${USAGE}\n`);
        process.exit(2);
      }
      opts.natsPort = n;
    } else if (a === "-h" || a === "--help") {
      say(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`npm start: unknown option ${JSON.stringify(a)}\n${USAGE}\n`);
      process.exit(2);
    }
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: project, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(project, "node_modules"))) {
  // npm install, not npm ci: npm 11 rejects its own lock file in ci (optional platform packages).
  say("Installing dependencies (npm install) ...");
  run("npm", ["install", "--no-fund", "--no-audit"]);
}
run(process.execPath, [join(project, "scripts", "ensure-built.mjs")]);

const dist = (...p) => import(pathToFileURL(join(project, "dist", ...p)).href);
const { LOCAL_AUTH_DIR, intelmqPaths, loadRuntimeConfig, natsOptions } = await dist("shared", "config", "index.js");
const { writeNatsConfig } = await dist("cli", "ctl-nats-config.js");
const { runCheck } = await dist("cli", "ctl-check.js");
const { configuredQueues } = await dist("cli", "ctl-config.js");
const { connectCtl } = await dist("cli", "connect.js");

const runtimeFile = join(root, "etc", "runtime.yaml");
let config;
try {
  config = loadRuntimeConfig(runtimeFile);
} catch (err) {
  say(`Cannot use ${shown(runtimeFile)}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// ---- the configuration, checked as `intelmqctl check` does, before anything starts

{
  const paths = intelmqPaths({ ...process.env, INTELMQ_ROOT_DIR: root });
  const r = await runCheck(paths, { noConnections: true, connect: () => Promise.reject(new Error("no connections")) });
  const disabled = new Set(Object.values(config.bots).filter((b) => !b.enabled).map((b) => b.id));
  // A problem of a bot that does not run is no reason to refuse the others.
  const botOf = (line) => /\b[Bb]ot "([^"]+)"/.exec(line)?.[1];
  const errors = r.lines.filter(([l, m]) => l === "error" && !disabled.has(botOf(m)));
  const warnings = r.lines.filter(([l, m]) => l === "warning" || (l === "error" && disabled.has(botOf(m))));
  for (const [l, m] of warnings) say(`${l === "error" ? "ERROR (a disabled bot, not started)" : "WARNING"}: ${m}`);
  if (errors.length) {
    say(`The configuration in ${shown(join(root, "etc"))} has errors, nothing was started (\`npx intelmqctl check\` shows the same):`);
    for (const [, m] of errors) say(`ERROR: ${m}`);
    say(`Fix them in ${shown(runtimeFile)} (or disable the bot: npx intelmqctl disable <bot-id>), then run npm start again.`);
    process.exit(1);
  }
}

// ---- helpers

function findNatsServer() {
  const dirs = (process.env.PATH || "").split(delimiter).concat(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]);
  for (const dir of dirs) {
    const p = dir && join(dir, "nats-server");
    if (p && existsSync(p)) return p;
  }
  return null;
}
function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer().once("error", () => resolve(false)).once("listening", () => s.close(() => resolve(true)));
    s.listen(port, "127.0.0.1");
  });
}
function waitPort(port, ms, alive) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const c = createConnection({ port, host: "127.0.0.1" });
      c.once("connect", () => { c.destroy(); resolve(); });
      c.once("error", () => {
        c.destroy();
        if (!alive()) reject(new Error("nats-server exited"));
        else if (Date.now() > until) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}
/** Without /proc (not Linux) processes are only known to be alive or not. */
const hasProc = existsSync("/proc/self/cmdline");
function isAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (err) { return err.code === "EPERM"; }
}
/** The command line of a live process (empty when it is gone or a zombie). */
function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").filter(Boolean); } catch { return []; }
}
/** The parent of a process (null when it is gone). */
function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch { return null; }
}
/** Resolves when the child has exited (at once if it already has). */
function exitOf(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", r));
}
/** SIGTERM, then SIGKILL after ms. */
async function terminate(child, ms) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const t = setTimeout(() => { try { child.kill("SIGKILL"); } catch { /* gone */ } }, ms);
  try { child.kill("SIGTERM"); } catch { /* gone */ }
  await exitOf(child);
  clearTimeout(t);
}
/** The same for a process that is not our child (a nats-server an earlier run left). */
async function terminatePid(pid, ms, still) {
  try { process.kill(pid, "SIGTERM"); } catch { return; }
  const until = Date.now() + ms;
  while (still() && Date.now() < until) await sleep(100);
  if (still()) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  while (still()) await sleep(50);
}
function readPid(file) {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch { return null; }
}

const runDir = join(root, "var", "run");
const logDir = join(root, "var", "log");
mkdirSync(runDir, { recursive: true });
mkdirSync(logDir, { recursive: true });
const urlFile = join(runDir, "nats.url");
const natsPidFile = join(runDir, "nats.pid");
const lockFile = join(runDir, "npm-start.pid");

// ---- one npm start per root: a second one would run every bot twice on the same store

{
  let other = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: "wx" });
      other = null;
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    const pid = readPid(lockFile);
    if (pid && pid !== process.pid && (hasProc ? cmdline(pid).some((a) => a.endsWith("start.mjs")) : isAlive(pid))) {
      other = pid;
      break;
    }
    // Left by a run that was killed: take it over.
    rmSync(lockFile, { force: true });
  }
  if (other) {
    let url = "";
    try { url = readFileSync(urlFile, "utf8").trim(); } catch { /* NATS given by NATS_URL */ }
    say(`npm start is already running for ${root} (pid ${other}${url ? `, NATS at ${url}` : ""}): nothing was started.`);
    say(`  Use it (npx intelmqctl status), or stop it first: Ctrl-C in its terminal, or kill ${other}.`);
    process.exit(1);
  }
}

let nats = null;
// ---- how a run ends: signals, and the end of the process that started it

let stopping = false;
let finishing = false;
let control = null;
let api = null;
let watcher = null;
const controlLog = createWriteStream(join(logDir, "intelmq-control.log"), { flags: "a" });

/** Stop NATS if it is ours, remove our files, exit. */
/** Keys a claim set holds (loaded as the deduplicator configured here, with its TTL, opens it anyway). */
async function claimsHeld(broker, name, ttl) {
  const set = await broker.kv.claims(name, ttl);
  try {
    return set.size;
  } finally {
    await set.close();
  }
}

async function finish(code) {
  if (finishing) return new Promise(() => undefined);
  finishing = true;
  clearInterval(watcher);
  if (nats) {
    if (code === 0) say("Stopping nats-server ...");
    await terminate(nats, 10000);
    rmSync(urlFile, { force: true });
    rmSync(natsPidFile, { force: true });
  }
  rmSync(lockFile, { force: true });
  await new Promise((r) => controlLog.end(r));
  if (code === 0) say("Stopped.");
  process.exit(code);
}

async function shutdown(why) {
  if (stopping) return;
  stopping = true;
  say(`Stopping the bots (${why}) ...`);
  // The control service drains its bots (up to its stop timeout) before it exits.
  await Promise.all([control && terminate(control, 60000), api && terminate(api, 10000)]);
  await finish(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGHUP", () => void shutdown("SIGHUP"));
// npm forwards SIGINT and SIGTERM to us, but dies of SIGHUP or SIGKILL without a word: then we
// are given to another parent, and nothing must outlive the run. Between npm and us there may be
// a `sh -c` (a script without exec): then the end of the shell's parent counts too.
const parent = process.ppid;
const parentArgs = cmdline(parent);
const viaShell = /(^|\/)(sh|dash|bash|zsh)$/.test(parentArgs[0] ?? "") && parentArgs[1] === "-c";
const grandparent = viaShell ? ppidOf(parent) : null;
const parentWatch = setInterval(() => {
  if (process.ppid !== parent || (grandparent !== null && ppidOf(parent) !== grandparent)) {
    void shutdown("the process that started npm start ended");
  }
}, 500);
parentWatch.unref();

// ---- NATS

let natsUrl = process.env.NATS_URL?.trim();
if (natsUrl) {
  say(`Using NATS at ${natsUrl} (NATS_URL)`);
} else if (config.global.nats_servers) {
  natsUrl = natsOptions(config, { INTELMQ_ROOT_DIR: root }).servers.join(",");
  say(`Using NATS at ${natsUrl} (nats_servers in ${shown(runtimeFile)})`);
} else {
  const bin = findNatsServer();
  if (!bin) {
    say("intelmq-nats needs a NATS server with JetStream, and none was found.");
    say("  Install one:  sudo apt-get install nats-server   (Debian/Ubuntu)");
    say("           or:  https://docs.nats.io/running-a-nats-service/introduction/installation");
    say("  or point to a running one:  NATS_URL=nats://host:4222 npm start");
    await finish(1);
  }
  const store = join(root, "var", "lib", "nats");
  mkdirSync(store, { recursive: true });
  // The store must not be used by two servers. One an earlier npm start left (it was killed
  // before it could stop it) is stopped; any other one is not ours to stop.
  const users = (hasProc ? readdirSync("/proc") : []).filter((d) => /^\d+$/.test(d)).map(Number)
    .filter((pid) => { const c = cmdline(pid); return c.some((a) => a.endsWith("nats-server")) && c.includes(store); });
  for (const pid of users) {
    if (pid === readPid(natsPidFile)) {
      say(`Stopping the nats-server an earlier npm start left running on ${shown(store)} (pid ${pid}) ...`);
      await terminatePid(pid, 10000, () => cmdline(pid).length > 0);
    } else {
      say(`The NATS store ${shown(store)} is in use by another nats-server (pid ${pid}): nothing was started.`);
      say(`  Stop it (kill ${pid}), or use it: NATS_URL=nats://127.0.0.1:<its port> npm start`);
      await finish(1);
    }
  }
  // Not an open server: every bot, the control service and the operators get their own NKey,
  // and each may do only what it needs (intelmqctl nats-config, run again at every start so that
  // bots added to runtime.yaml get theirs; existing keys are kept).
  const auth = join(root, LOCAL_AUTH_DIR);
  try {
    writeNatsConfig(config, auth);
  } catch (err) {
    say(`Cannot write the NATS credentials in ${shown(auth)}: ${err instanceof Error ? err.message : String(err)}`);
    await finish(1);
  }
  process.env.INTELMQ_NATS_CREDENTIALS_DIR = join(auth, "creds");
  let port = opts.natsPort;
  while (!(await portFree(port))) port++;
  const natsLog = createWriteStream(join(logDir, "nats-server.log"), { flags: "a" });
  await new Promise((r) => natsLog.once("open", r));
  // Own process group: Ctrl-C must not end NATS before the bots have drained.
  nats = spawn(bin, ["-c", join(auth, "nats-server.conf"), "-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], { stdio: ["ignore", natsLog, natsLog], detached: true });
  // At once: a run killed from here on leaves a server the next run recognises as its own.
  writeFileSync(natsPidFile, `${nats.pid}\n`);
  natsUrl = `nats://127.0.0.1:${port}`;
  try {
    await waitPort(port, 15000, () => nats.exitCode === null && nats.signalCode === null);
  } catch (err) {
    if (stopping) await new Promise(() => undefined); // stopped by a signal: shutdown() ends us
    say(`nats-server did not start (${err.message}); see ${shown(join(logDir, "nats-server.log"))}`);
    await finish(1);
  }
  writeFileSync(urlFile, natsUrl + "\n");
  say(`Started nats-server with JetStream on ${natsUrl} (store: ${shown(store)}, address in ${shown(urlFile)})`);
  say(`  It admits only the credentials in ${shown(join(auth, "creds"))}: one per bot, control.creds, admin.creds (intelmqctl and the API use it).`);
}
// The checks below and the control service use this server.
process.env.NATS_URL = natsUrl;


// ---- what the server keeps from earlier runs: the deduplicator's cache, the duplicate windows

const dedupBots = Object.values(config.bots).filter((b) => b.enabled && b.module === "intelmq.bots.experts.deduplicator.expert");
const thresholdBots = Object.values(config.bots).filter((b) => b.module === "intelmq.bots.experts.threshold.expert");
{
  let broker = null;
  for (let attempt = 1; !broker && attempt <= 5; attempt++) {
    try {
      broker = await connectCtl(config, "npm start");
    } catch (err) {
      if (attempt === 5) {
        if (opts.fresh) {
          say(`--fresh: cannot reach NATS at ${natsUrl} (${err.message}); nothing was started.`);
          await finish(1);
        }
      } else await sleep(500 * attempt);
    }
  }
  if (broker) {
    try {
      if (opts.fresh) {
        const queues = [...configuredQueues(config)].sort();
        let deleted = 0;
        for (const q of queues) if (await broker.queues.delete(q)) deleted++;
        const caches = [];
        if (await broker.kv.deleteClaims("dedup")) caches.push("dedup");
        for (const bucket of thresholdBots.map((b) => `threshold-${b.id}`)) {
          if (await broker.kv.delete(bucket)) caches.push(bucket);
        }
        say(`Fresh start: emptied ${deleted} queue${deleted === 1 ? "" : "s"} of ${shown(runtimeFile)}` +
          `${caches.length ? ` and the cache${caches.length === 1 ? "" : "s"} ${caches.join(", ")}` : ""} (the archive, dumps, logs and output files are kept)`);
      } else if (dedupBots.length) {
        const ttl = Number(dedupBots[0].parameters?.redis_cache_ttl ?? 86400);
        const n = await claimsHeld(broker, "dedup", ttl);
        if (n > 0) {
          const span = ttl % 86400 === 0 ? `${ttl / 86400} day${ttl === 86400 ? "" : "s"}` : ttl % 3600 === 0 ? `${ttl / 3600} h` : `${ttl} s`;
          say(`Note: the deduplicator (${dedupBots.map((b) => b.id).join(", ")}) remembers ${n} event${n === 1 ? "" : "s"} of earlier runs for ${span}:`);
          say("  events already seen are dropped, so the sample feeds add no new events to the output.");
          say("  To start afresh (empty queues and caches): npm start -- --fresh");
        }
      }
    } catch (err) {
      if (opts.fresh) {
        say(`--fresh failed: ${err.message}; nothing was started.`);
        await broker.close().catch(() => undefined);
        await finish(1);
      }
    }
    await Promise.race([broker.close().catch(() => undefined), sleep(3000)]);
  }
}

// ---- the control service, which runs the bots

if (stopping) await new Promise(() => undefined); // a signal came while we checked: shutdown() ends us
control = spawn(process.execPath, [join(project, "bin", "intelmq-control.mjs"), ...(nats ? ["--nats-pid", String(nats.pid)] : [])], {
  cwd: root,
  env: { ...process.env, NATS_URL: natsUrl, INTELMQ_ROOT_DIR: root, INTELMQ_PARENT_PID: String(process.pid) },
  stdio: ["ignore", "pipe", "pipe"],
  // Own process group: on Ctrl-C we stop it, and it stops the bots in order.
  detached: true,
});
// Everything the control service logs goes to its log file; warnings and errors also here, briefly.
for (const stream of [control.stdout, control.stderr]) {
  createInterface({ input: stream }).on("line", (line) => {
    controlLog.write(line + "\n");
    try {
      const o = JSON.parse(line);
      if (o.level === "warn" || o.level === "error" || o.level === "fatal") {
        if (o.bot_id && o.last_error) {
          // A crashing bot: its own last error line, once per distinct error (the control service
          // reports a repeat at info level).
          say(`[${o.level}] ${o.bot_id} failed: ${o.last_error}`);
          say(`    (${o.reason}; it is restarted with growing delays, this is shown again only if the error changes; log: ${o.log_file ?? `var/log/${o.bot_id}.log`})`);
          return;
        }
        const detail = o.reason ?? o.err?.message ?? o.err ?? "";
        say(`[${o.level}] ${o.bot_id ? `${o.bot_id}: ` : ""}${o.msg}${detail ? ` (${detail})` : ""}`);
      }
    } catch {
      say(line);
    }
  });
}

// ---- the API (intelmq-api's routes for the IntelMQ Manager, /metrics, the monitor page)

// 127.0.0.1:8080 unless configured; when that port is taken, the next free one (as for NATS).
let apiListen = process.env.INTELMQ_API_LISTEN?.trim() || (typeof config.global.api_listen === "string" ? config.global.api_listen : "");
if (!apiListen) {
  let port = 8080;
  while (!(await portFree(port)) && port < 8180) port++;
  apiListen = `127.0.0.1:${port}`;
}
const apiUrl = new Promise((resolve) => {
  api = spawn(process.execPath, [join(project, "bin", "intelmq-api.mjs")], {
    cwd: root,
    env: { ...process.env, NATS_URL: natsUrl, INTELMQ_ROOT_DIR: root, INTELMQ_PARENT_PID: String(process.pid), INTELMQ_API_LISTEN: apiListen },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const apiLog = createWriteStream(join(logDir, "intelmq-api.log"), { flags: "a" });
  createInterface({ input: api.stdout }).on("line", (line) => {
    const m = /listening on (\S+)/.exec(line);
    if (m) resolve(m[1]);
    else apiLog.write(line + "\n");
  });
  createInterface({ input: api.stderr }).on("line", (line) => {
    apiLog.write(line + "\n");
    if (/^intelmq-api: /.test(line)) say(`[warn] ${line} (the bots run on; log: ${shown(join(logDir, "intelmq-api.log"))})`);
  });
  // The bots do not need the API: a run goes on without it.
  api.once("exit", () => resolve(null));
  setTimeout(() => resolve(null), 15000).unref();
});

const bots = Object.values(config.bots).filter((b) => b.enabled);
const outputs = bots.filter((b) => b.module === "intelmq.bots.outputs.file.output");
const outFiles = outputs.map((b) => {
  const f = String(b.parameters?.file ?? "var/lib/bots/file-output/events.txt");
  return isAbsolute(f) ? f : join(root, f);
});
say(`Running ${bots.length} bots of ${shown(runtimeFile)}: ${bots.map((b) => b.id).join(", ")}`);
for (const f of outFiles) say(`Events are written to ${shown(f)}`);
say(`Logs: ${shown(logDir)}/<bot-id>.log, the control service in ${shown(join(logDir, "intelmq-control.log"))}`);
say("Status: npx intelmqctl status    (in another terminal, from this folder)");
{
  const url = await apiUrl;
  if (url) say(`API and monitor: ${url}  (IntelMQ Manager API root: ${url.replace(/\/$/, "")}; add a user: npx intelmq-api-adduser --user NAME; metrics: ${url}metrics)`);
}
say("Press Ctrl-C to stop.");

const sizes = () => outFiles.map((f) => (existsSync(f) ? statSync(f).size : 0));
const initial = sizes();
let firstEventsShown = false;
watcher = setInterval(() => {
  if (firstEventsShown) return;
  const now = sizes();
  const i = now.findIndex((s, k) => s > initial[k]);
  if (i >= 0) {
    firstEventsShown = true;
    say(`Events are arriving in ${shown(outFiles[i])}`);
    clearInterval(watcher);
  }
}, 500);

control.once("exit", (code, signal) => {
  if (stopping) return;
  stopping = true;
  say(`The control service ended (${signal ?? `code ${code}`}); see ${shown(join(logDir, "intelmq-control.log"))}`);
  void finish(code === 0 ? 1 : code ?? 1);
});
