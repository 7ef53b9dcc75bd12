// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Our own intelmq-api in tests: bin/intelmq-api.mjs started on 127.0.0.1 (a free port), a user
 * added with bin/intelmq-api-adduser.mjs, and a session token from its login route.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT } from "./paths.js";

export interface RunningApi {
  /** http://127.0.0.1:<port> (no trailing slash) */
  url: string;
  proc: ChildProcess;
}

/** Start bin/intelmq-api.mjs; resolves with its base URL once it printed it. */
export async function startApi(env: NodeJS.ProcessEnv, logFile: string): Promise<RunningApi> {
  const fd = openSync(logFile, "a");
  const proc = spawn(process.execPath, [join(ROOT, "bin", "intelmq-api.mjs")], { env: { ...env, INTELMQ_API_LISTEN: "127.0.0.1:0" }, stdio: ["ignore", "pipe", fd] });
  closeSync(fd);
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on("line", (l) => {
      const m = /listening on (http:\/\/\S+?)\/? /.exec(l);
      if (m) resolve(m[1]!);
    });
    proc.once("exit", (c) => reject(new Error(`intelmq-api exited (${c}): ${readFileSync(logFile, "utf8")}`)));
  });
  return { url, proc };
}

/** SIGTERM, then SIGKILL after 20 s. */
export async function stopProcess(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await Promise.race([exited, sleep(20_000)]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
}

/** Run a node script of the project (bin/...) to its end. */
export function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Add a user with intelmq-api-adduser and log in; the session token. */
export async function addUserAndLogin(api: RunningApi, env: NodeJS.ProcessEnv, username: string, password: string): Promise<string> {
  const add = await runNode([join(ROOT, "bin", "intelmq-api-adduser.mjs"), "--user", username, "--password", password], env);
  if (add.code !== 0) throw new Error(`intelmq-api-adduser failed: ${add.stderr}`);
  const r = await fetch(`${api.url}/v1/api/login`, { method: "POST", body: new URLSearchParams({ username, password }) });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${await r.text()}`);
  return (await r.json() as { login_token: string }).login_token;
}

/** Init of apiRequest(): `auth` overrides the token (null: no Authorization header). */
export type ApiInit = RequestInit & { auth?: string | null };

/** A request to the API at `base()` with `token()` as Authorization (or `init.auth`). */
export function apiRequest(base: () => string, token: () => string): (path: string, init?: ApiInit) => Promise<Response> {
  return (path, init = {}) => {
    const headers = new Headers(init.headers);
    const auth = init.auth === undefined ? token() : init.auth;
    if (auth !== null) headers.set("authorization", auth);
    return fetch(`${base()}${path}`, { ...init, headers });
  };
}
