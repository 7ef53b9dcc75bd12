// SPDX-License-Identifier: AGPL-3.0-only
// `npm start`: installs what is missing, builds, finds NATS (NATS_URL, else global nats_servers of
// runtime.yaml, else a local nats-server it starts), then runs the control service, which runs
// every enabled bot of etc/runtime.yaml as its own process, until Ctrl-C stops everything.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Where the code lives (package.json, dist/, bin/). */
const project = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the configuration and the data live (IntelMQ's INTELMQ_ROOT_DIR). */
const root = process.env.INTELMQ_ROOT_DIR ? resolve(process.env.INTELMQ_ROOT_DIR) : project;
const say = (msg) => process.stdout.write(`${msg}\n`);
const shown = (p) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
};

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

const { loadRuntimeConfig, natsOptions } = await import(pathToFileURL(join(project, "dist", "shared", "config", "index.js")).href);

const runtimeFile = join(root, "etc", "runtime.yaml");
let config;
try {
  config = loadRuntimeConfig(runtimeFile);
} catch (err) {
  say(`Cannot use ${shown(runtimeFile)}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

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

const runDir = join(root, "var", "run");
const logDir = join(root, "var", "log");
mkdirSync(runDir, { recursive: true });
mkdirSync(logDir, { recursive: true });
const urlFile = join(runDir, "nats.url");

let nats = null;
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
    process.exit(1);
  }
  let port = 4222;
  while (!(await portFree(port))) port++;
  const store = join(root, "var", "lib", "nats");
  mkdirSync(store, { recursive: true });
  const natsLog = createWriteStream(join(logDir, "nats-server.log"), { flags: "a" });
  await new Promise((r) => natsLog.once("open", r));
  // Own process group: Ctrl-C must not end NATS before the bots have drained.
  nats = spawn(bin, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], { stdio: ["ignore", natsLog, natsLog], detached: true });
  natsUrl = `nats://127.0.0.1:${port}`;
  try {
    await waitPort(port, 15000, () => nats.exitCode === null && nats.signalCode === null);
  } catch (err) {
    say(`nats-server did not start (${err.message}); see ${shown(join(logDir, "nats-server.log"))}`);
    await terminate(nats, 3000);
    process.exit(1);
  }
  writeFileSync(urlFile, natsUrl + "\n");
  say(`Started nats-server with JetStream on ${natsUrl} (store: ${shown(store)}, address in ${shown(urlFile)})`);
}

let stopping = false;
let firstEventsShown = false;
const controlLog = createWriteStream(join(logDir, "intelmq-control.log"), { flags: "a" });
const control = spawn(process.execPath, [join(project, "bin", "intelmq-control.mjs")], {
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
        const detail = o.reason ?? o.err?.message ?? o.err ?? "";
        say(`[${o.level}] ${o.bot_id ? `${o.bot_id}: ` : ""}${o.msg}${detail ? ` (${detail})` : ""}`);
      }
    } catch {
      say(line);
    }
  });
}

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
say("Press Ctrl-C to stop.");

const sizes = () => outFiles.map((f) => (existsSync(f) ? statSync(f).size : 0));
const initial = sizes();
const watcher = setInterval(() => {
  if (firstEventsShown) return;
  const now = sizes();
  const i = now.findIndex((s, k) => s > initial[k]);
  if (i >= 0) {
    firstEventsShown = true;
    say(`Events are arriving in ${shown(outFiles[i])}`);
    clearInterval(watcher);
  }
}, 500);

async function finish(code) {
  clearInterval(watcher);
  if (nats) {
    await terminate(nats, 10000);
    rmSync(urlFile, { force: true });
  }
  await new Promise((r) => controlLog.end(r));
  if (code === 0) say("Stopped.");
  process.exit(code);
}

control.once("exit", (code, signal) => {
  if (stopping) return;
  stopping = true;
  say(`The control service ended (${signal ?? `code ${code}`}); see ${shown(join(logDir, "intelmq-control.log"))}`);
  void finish(code === 0 ? 1 : code ?? 1);
});

async function shutdown() {
  if (stopping) return;
  stopping = true;
  say("Stopping the bots ...");
  // The control service drains its bots (up to its stop timeout) before it exits.
  await terminate(control, 60000);
  if (nats) say("Stopping nats-server ...");
  await finish(0);
  
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
process.on("SIGHUP", () => void shutdown());
