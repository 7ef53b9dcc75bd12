// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A private nats-server for tests and benchmarks: JetStream on, loopback only, a free port,
 * a temporary store. Nothing here talks to a shared server on 4222.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface NatsServerOptions {
  /** Extra command-line arguments. */
  args?: string[];
  /** max_payload of the server in bytes (default: the server's, 1 MiB). */
  maxPayload?: number;
  /** Use this store directory instead of a fresh temporary one (it is then not removed). */
  storeDir?: string;
  /** How long to wait for the server to answer (ms, default 15000). */
  startTimeoutMs?: number;
  /** Require this user and password of every client (--user/--pass); the probe logs in with them. */
  auth?: { user: string; pass: string };
}

export interface NatsServer extends AsyncDisposable {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The server's version as it reports it (e.g. "2.9.10"). */
  readonly version: string;
  /** Graceful stop (SIGTERM); removes the temporary store unless keepStore is set. */
  stop(opts?: { keepStore?: boolean }): Promise<void>;
  /** Crash (SIGKILL); the store stays for restart(). */
  kill(): Promise<void>;
  /** Start again on the same port with the same store (stops it first if it runs). */
  restart(): Promise<void>;
  /** True while the process runs. */
  readonly running: boolean;
  /** The server process's id while it runs. */
  readonly pid: number | undefined;
  /** The last lines the server logged, for diagnostics. */
  log(): string;
}

/** Path of the nats-server binary: NATS_SERVER_BIN, /usr/sbin/nats-server, or the first on PATH. */
export function natsServerBinary(): string {
  const env = process.env["NATS_SERVER_BIN"];
  if (env && existsSync(env)) return env;
  for (const p of ["/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server"]) if (existsSync(p)) return p;
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const p = join(dir, "nats-server");
    if (dir && existsSync(p)) return p;
  }
  throw new Error("nats-server not found (set NATS_SERVER_BIN or put it on PATH)");
}

/** A TCP port on 127.0.0.1 that is free right now. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// Servers still running when the test process exits are killed and their stores removed.
const live = new Set<{ proc: ChildProcess | null; dir: string; ownDir: boolean }>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const s of live) {
      try { s.proc?.kill("SIGKILL"); } catch { /* already gone */ }
      if (s.ownDir) try { rmSync(s.dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  });
}

/** Start a nats-server with JetStream on a free loopback port; resolves once JetStream answers. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  installExitHook();
  const bin = natsServerBinary();
  const port = await freePort();
  const ownDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "intelmq-nats-"));
  const entry = { proc: null as ChildProcess | null, dir: storeDir, ownDir };
  live.add(entry);
  let logTail: string[] = [];
  let version = "";
  let exited: Promise<void> = Promise.resolve();

  const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, ...(opts.args ?? [])];
  if (opts.auth) args.push("--user", opts.auth.user, "--pass", opts.auth.pass);
  let configFile: string | null = null;
  if (opts.maxPayload) {
    // max_payload has no command-line flag: a one-line config file carries it.
    const { writeFileSync } = await import("node:fs");
    configFile = join(storeDir, "server.conf");
    writeFileSync(configFile, `max_payload: ${opts.maxPayload}\n`);
    args.push("-c", configFile);
  }

  const launch = async (): Promise<void> => {
    const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    entry.proc = proc;
    const onData = (b: Buffer) => {
      logTail.push(...b.toString("utf8").split("\n").filter(Boolean));
      if (logTail.length > 200) logTail = logTail.slice(-200);
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    exited = new Promise<void>((resolve) => proc.once("exit", () => { entry.proc = null; resolve(); }));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15000);
    let lastErr: unknown = null;
    while (Date.now() < deadline) {
      if (!entry.proc) throw new Error(`nats-server exited during start:\n${logTail.slice(-20).join("\n")}`);
      try {
        version = await probeJetStream(port, undefined, opts.auth);
        return;
      } catch (err) {
        lastErr = err;
        await sleep(50);
      }
    }
    proc.kill("SIGKILL");
    throw new Error(`nats-server did not answer on port ${port}: ${String(lastErr)}\n${logTail.slice(-20).join("\n")}`);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = entry.proc;
    if (!proc) return;
    proc.kill(signal);
    const t = setTimeout(() => { try { proc.kill("SIGKILL"); } catch { /* gone */ } }, 10000);
    await exited;
    clearTimeout(t);
  };

  await launch();

  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get version() { return version; },
    get running() { return entry.proc !== null; },
    get pid() { return entry.proc?.pid; },
    log: () => logTail.join("\n"),
    async stop(o?: { keepStore?: boolean }) {
      await terminate("SIGTERM");
      if (!o?.keepStore) {
        live.delete(entry);
        if (ownDir) rmSync(storeDir, { recursive: true, force: true });
      }
    },
    async kill() {
      await terminate("SIGKILL");
    },
    async restart() {
      await terminate("SIGTERM");
      live.add(entry);
      await launch();
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
    },
  };
  return server;
}

/**
 * Speak just enough of the NATS protocol to ask $JS.API.INFO; resolves with the server's version
 * once JetStream answered without an error.
 */
export function probeJetStream(port: number, timeoutMs = 2000, auth?: { user: string; pass: string }): Promise<string> {
  const login = auth ? `,"user":${JSON.stringify(auth.user)},"pass":${JSON.stringify(auth.pass)}` : "";
  return new Promise<string>((resolve, reject) => {
    const sock = tcpConnect({ host: "127.0.0.1", port });
    let buf = "";
    let version = "";
    let sent = false;
    const done = (err: Error | null, v?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(v ?? "");
    };
    const timer = setTimeout(() => done(new Error("timeout")), timeoutMs);
    sock.on("error", (e) => done(e));
    sock.on("data", (b) => {
      buf += b.toString("utf8");
      if (!sent) {
        const i = buf.indexOf("\r\n");
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!line.startsWith("INFO ")) return done(new Error(`unexpected: ${line}`));
        try { version = String((JSON.parse(line.slice(5)) as { version?: string }).version ?? ""); } catch { /* keep empty */ }
        sent = true;
        sock.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true${login}}\r\n` +
          "SUB _PROBE.js 1\r\nPUB $JS.API.INFO _PROBE.js 0\r\n\r\nPING\r\n");
        return;
      }
      // Expect "MSG _PROBE.js 1 <n>\r\n<payload>\r\n"; the payload must not be an error.
      const m = /MSG _PROBE\.js 1 (\d+)\r\n/.exec(buf);
      if (m) {
        const start = m.index + m[0].length;
        const n = Number(m[1]);
        if (buf.length < start + n) return;
        const payload = buf.slice(start, start + n);
        if (payload.includes('"error"')) return done(new Error(`JetStream not ready: ${payload}`));
        return done(null, version);
      }
      const h = /HMSG _PROBE\.js 1 \d+ \d+\r\n/.exec(buf);
      if (h) return done(new Error("JetStream not ready (no responders)"));
      if (buf.includes("-ERR")) return done(new Error(buf.trim()));
    });
  });
}
