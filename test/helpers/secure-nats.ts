// SPDX-License-Identifier: AGPL-3.0-only
/**
 * nats-server with the configuration `intelmqctl nats-config` wrote (NKey users, permissions),
 * optionally TLS with a throwaway CA from deploy/make-ca.sh; started and probed with the
 * operators' credentials, as the tools connect.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectJetStream, type Broker, type JetStreamOptions } from "../../shared/broker/index.js";
import { natsServerBinary } from "./nats-server.js";
import { ROOT } from "./paths.js";

export interface Certs { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }

/** A CA with server and client certificates in `dir` (deploy/make-ca.sh, openssl). */
export function makeCerts(dir: string): Certs {
  execFileSync("sh", [join(ROOT, "deploy", "make-ca.sh"), dir], { stdio: "ignore" });
  return {
    dir, ca: join(dir, "ca.pem"), serverCert: join(dir, "server-cert.pem"), serverKey: join(dir, "server-key.pem"),
    clientCert: join(dir, "client-cert.pem"), clientKey: join(dir, "client-key.pem"),
  };
}

/** Run intelmqctl with `env`; its exit code and output. */
export function intelmqctl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin", "intelmqctl.mjs"), ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SecureServer {
  proc: ChildProcess;
  logFile: string;
  exited: Promise<void>;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Start nats-server -c conf (its store dir in it) on 127.0.0.1:port; its log goes to dir/nats.log. */
export function startConfigured(conf: string, port: number, dir: string, extra: string[] = []): SecureServer {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, "nats.log");
  const fd = openSync(logFile, "a");
  const proc = spawn(natsServerBinary(), ["-c", conf, "-a", "127.0.0.1", "-p", String(port), ...extra], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    proc, logFile, exited,
    log: () => readFileSync(logFile, "utf8"),
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Connect until the server answers (JetStream up), with these options. */
export async function connectWhenUp(opts: JetStreamOptions, timeoutMs = 20_000): Promise<Broker> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectJetStream({ maxReconnectAttempts: 0, ...opts });
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(100);
    }
  }
}
