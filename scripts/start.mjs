// SPDX-License-Identifier: AGPL-3.0-only
// `npm start`: installs what is missing, builds, finds or starts NATS, then runs every enabled
// bot of etc/runtime.yaml as its own process (restarting crashed ones) until Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.env.INTELMQ_ROOT_DIR || join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (msg) => process.stdout.write(`${msg}\n`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(root, "node_modules", "@nats-io"))) {
  say("Installing dependencies (npm ci) ...");
  run("npm", ["ci", "--no-fund", "--no-audit"]);
}
run(process.execPath, [join(root, "scripts", "ensure-built.mjs")]);

const { loadRuntimeConfig } = await import(join(root, "dist", "shared", "config", "index.js"));

function findNatsServer() {
  for (const dir of (process.env.PATH || "").split(":").concat(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"])) {
    const p = join(dir, "nats-server");
    if (dir && existsSync(p)) return p;
  }
  return null;
}
function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer().once("error", () => resolve(false)).once("listening", () => s.close(() => resolve(true)));
    s.listen(port, "127.0.0.1");
  });
}
function waitPort(port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const c = createConnection({ port, host: "127.0.0.1" });
      c.once("connect", () => { c.destroy(); resolve(); });
      c.once("error", () => { c.destroy(); if (Date.now() > until) reject(new Error(`nothing listens on ${port}`)); else setTimeout(attempt, 100); });
    };
    attempt();
  });
}

const children = new Set();
let stopping = false;
let natsUrl = process.env.NATS_URL;
let nats = null;
const runDir = join(root, "var", "run");
mkdirSync(runDir, { recursive: true });
mkdirSync(join(root, "var", "log"), { recursive: true });

if (!natsUrl) {
  const bin = findNatsServer();
  if (!bin) {
    say("NATS is needed and none was found: set NATS_URL to a NATS server with JetStream,");
    say("or install one (Debian/Ubuntu: sudo apt-get install nats-server) and run npm start again.");
    process.exit(1);
  }
  let port = 4222;
  while (!(await portFree(port))) port++;
  const store = join(root, "var", "lib", "nats");
  mkdirSync(store, { recursive: true });
  nats = spawn(bin, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], {
    stdio: ["ignore", "ignore", createWriteStream(join(root, "var", "log", "nats-server.log"), { flags: "a" })],
  });
  natsUrl = `nats://127.0.0.1:${port}`;
  await waitPort(port, 10000);
  writeFileSync(join(runDir, "nats.url"), natsUrl + "\n");
  say(`Started nats-server with JetStream on ${natsUrl} (store: var/lib/nats)`);
} else {
  say(`Using NATS at ${natsUrl}`);
}

const config = loadRuntimeConfig(join(root, "etc", "runtime.yaml"));
const bots = Object.entries(config.bots).filter(([, b]) => b.enabled !== false);
const env = { ...process.env, NATS_URL: natsUrl, INTELMQ_ROOT_DIR: root };

function startBot(id, attempt = 0) {
  if (stopping) return;
  const log = createWriteStream(join(root, "var", "log", `${id}.log`), { flags: "a" });
  const child = spawn(process.execPath, [join(root, "bin", "intelmq-bot.mjs"), id], { cwd: root, env, stdio: ["ignore", log, log] });
  children.add(child);
  const started = Date.now();
  child.on("exit", (code, signal) => {
    children.delete(child);
    if (stopping) return;
    const next = Date.now() - started > 30000 ? 0 : attempt + 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(next, 6));
    say(`${id} exited (${signal ?? `code ${code}`}); restarting in ${Math.round(delay / 1000)} s (see var/log/${id}.log)`);
    setTimeout(() => startBot(id, next), delay);
  });
}
for (const [id] of bots) startBot(id);

say(`Started ${bots.length} bots: ${bots.map(([id]) => id).join(", ")}; logs in var/log/<bot-id>.log`);
const out = bots.find(([, b]) => b.module === "intelmq.bots.outputs.file.output");
if (out) say(`Events are written to ${out[1].parameters?.file ?? "var/lib/bots/file-output/events.txt"}`);
say("Press Ctrl-C to stop.");

async function shutdown() {
  if (stopping) return;
  stopping = true;
  say("Stopping bots ...");
  const exits = [...children].map((c) => new Promise((r) => { c.once("exit", r); c.kill("SIGTERM"); }));
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 15000))]);
  for (const c of children) c.kill("SIGKILL");
  if (nats) {
    await new Promise((r) => { nats.once("exit", r); nats.kill("SIGTERM"); setTimeout(r, 5000); });
    rmSync(join(runDir, "nats.url"), { force: true });
  }
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
