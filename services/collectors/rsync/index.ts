// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Rsync collector: fetches one file with rsync (a daemon, ssh or a local path) into a local copy,
 * and sends the copy as a report (IntelMQ's intelmq.bots.collectors.rsync.collector_rsync).
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { z } from "zod";
import { collectorParams, defineBot, p, ConfigurationError, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { formatUrl } from "../http/index.js";

const formatting = z.preprocess((v) => {
  if (typeof v === "string" && v.trim().startsWith("{")) return JSON.parse(v) as unknown;
  return v;
}, z.union([p.bool(), z.record(z.string(), p.number())]));

export const params = z.object({
  ...collectorParams,
  rsync_path: z.string().default("<path>").describe("Where the file is: a directory, host::module/dir, rsync://host/module/dir or host:dir (ssh)"),
  file: z.string().default("<file>").describe("Name of the file in rsync_path"),
  rsync_file_path_formatting: formatting.nullable().default(false).transform((v) => v ?? false)
    .describe("Format {time[<strftime>]} in rsync_path and file with the current local time; true, or a time delta such as {\"days\": -1}"),
  extra_params: z.string().nullable().default(null).describe("More rsync arguments (split as a shell would)"),
  private_key: p.secret(z.string().nullable().default(null)).describe("SSH private key (OpenSSH, with or without its header lines) for rsync over ssh"),
  private_key_path: z.string().nullable().default(null).describe("File of the SSH private key (instead of private_key)"),
  strict_host_key_checking: p.bool().default(false).describe("ssh's StrictHostKeyChecking with a private key"),
  temp_directory: z.string().nullable().default(null)
    .describe("Directory of the local copy (kept between rounds: rsync transfers the changes only); null: the bot's state directory"),
}).strict();

export type Params = z.infer<typeof params>;

/** Splits a command line into words as Python's shlex.split (POSIX rules: quotes and backslashes). */
export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/\s/.test(c)) { if (cur !== null) { out.push(cur); cur = null; } continue; }
    cur ??= "";
    if (c === "\\") { cur += s[++i] ?? ""; continue; }
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ConfigurationError("extra_params", "No closing quotation");
      cur += s.slice(i + 1, end);
      i = end;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === "\\" && /["\\$`\n]/.test(s[j + 1] ?? "")) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new ConfigurationError("extra_params", "No closing quotation");
      i = j;
      continue;
    }
    cur += c;
  }
  if (cur !== null) out.push(cur);
  return out;
}

/** A private key in OpenSSH's PEM layout, as IntelMQ writes it (body rewrapped at 70 columns). */
export function opensshKey(key: string): string {
  const body = (key.includes("-----") ? key.split("-----")[2] ?? "" : key).split(/\s+/).join("");
  const lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"];
  for (let i = 0; i < body.length; i += 70) lines.push(body.slice(i, i + 70));
  lines.push("-----END OPENSSH PRIVATE KEY-----", "");
  return lines.join("\n");
}

/** Python's os.path.join for two parts: no normalisation (rsync://host/... keeps its double slash). */
function pathJoin(a: string, b: string): string {
  if (b.startsWith("/") || a === "") return b;
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stderr: stderr || (err && code === -1 ? err.message : "") });
    });
  });
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const temp = prm.temp_directory ?? ctx.stateDir;
  mkdirSync(temp, { recursive: true });
  const extra = prm.extra_params ? shlexSplit(prm.extra_params) : [];
  if (prm.private_key && prm.private_key_path) {
    throw new ConfigurationError("rsync", "You must define only one of the variables private_key or private_key_path");
  }
  let keyPath = prm.private_key_path;
  if (prm.private_key) {
    const dir = join(ctx.stateDir, "privkey");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    keyPath = join(dir, "private.key");
    writeFileSync(keyPath, opensshKey(prm.private_key), { mode: 0o600 });
    chmodSync(keyPath, 0o600); // ssh refuses a key others may read (an existing file keeps its mode)
  }
  if (keyPath) extra.push("-e", `ssh -i ${keyPath} -o StrictHostKeyChecking=${prm.strict_host_key_checking ? "yes" : "no"}`);

  return {
    async *collect(): AsyncGenerator<Report> {
      const fmt = prm.rsync_file_path_formatting;
      const file = fmt ? formatUrl(prm.file, fmt) : prm.file;
      const dir = fmt ? formatUrl(prm.rsync_path, fmt) : prm.rsync_path;
      ctx.log.info(`Updating file ${file}.`);
      const args = [...extra, pathJoin(dir, file), temp];
      ctx.log.debug(`Executing command: ${JSON.stringify(["rsync", ...args])}.`);
      const { code, stderr } = await run("rsync", args);
      if (code !== 0) throw new Error(`Rsync on file ${JSON.stringify(file)} failed with exitcode ${code} and stderr ${JSON.stringify(stderr)}.`);
      const data = readFileSync(join(temp, posix.basename(file)));
      if (data.length === 0) return;
      const report = ctx.newReport();
      report.add("raw", data.toString("base64"), { sanitize: false });
      yield report;
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "rsync",
  intelmq: "intelmq.bots.collectors.rsync.collector_rsync",
  description: "Fetches a file with rsync (daemon, ssh or local) and sends it as a report",
  params,
  runtimeDefaults: { rate_limit: 1000 }, // IntelMQ's default for this collector
  create,
});
