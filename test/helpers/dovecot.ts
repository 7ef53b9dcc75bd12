// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A private Dovecot IMAP server for tests: its own config file, a free loopback port, passwd-file
 * authentication, maildirs in a temporary folder. Mails are delivered by writing files into a
 * maildir's new/ folder, as a local delivery agent would; what the server did to them (the Seen
 * flag) is read back from the maildir file names.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./nats-server.js";
import { tempDir } from "./tmp.js";

export const DOVECOT_BIN = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].find((p) => existsSync(p)) ?? null;

export interface Dovecot extends AsyncDisposable {
  readonly host: "127.0.0.1";
  /** Plain IMAP port (STARTTLS offered when started with tls). */
  readonly port: number;
  /** Implicit-TLS port (IMAPS) when started with tls, else 0. */
  readonly tlsPort: number;
  /** PEM of the throwaway self-signed certificate (tls), for ssl_ca_certificate. */
  readonly caFile: string | null;
  readonly user: string;
  readonly password: string;
  /** Put a mail (RFC 5322 text) into a folder ("INBOX" or another mailbox); returns its file name. */
  deliver(mail: string | Buffer, folder?: string): string;
  /** Names (delivered file names, without flags) of the mails in a folder with the Seen flag. */
  seen(folder?: string): Set<string>;
  /** Names of all mails of a folder. */
  all(folder?: string): string[];
  stop(): Promise<void>;
  log(): string;
}

const live = new Set<ChildProcess>();
process.on("exit", () => { for (const p of live) try { p.kill("SIGKILL"); } catch { /* gone */ } });

/** Starts Dovecot; resolves once it answers with its IMAP greeting. */
export async function startDovecot(opts: { tls?: boolean; folders?: string[] } = {}): Promise<Dovecot> {
  if (!DOVECOT_BIN) throw new Error("dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)");
  const dir = tempDir("dovecot-");
  chmodSync(dir, 0o755);
  const user = "reports", password = "s3cret-imap-password";
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : 0;
  const root = userInfo().uid === 0;
  // As root Dovecot drops privileges: login processes, internal processes and mail access each
  // get a system user; the maildir belongs to the mail user.
  const mailUid = root ? 8 : userInfo().uid, mailGid = root ? 8 : userInfo().gid;
  const mail = join(dir, "mail", user);
  for (const f of ["", ...(opts.folders ?? []).map((x) => "." + x)]) {
    for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(mail, f, sub), { recursive: true });
  }
  writeFileSync(join(dir, "passwd"), `${user}:{PLAIN}${password}:${mailUid}:${mailGid}::${join(dir, "home", user)}\n`);
  mkdirSync(join(dir, "home", user), { recursive: true });
  let caFile: string | null = null;
  let sslConf = "ssl = no\n";
  if (opts.tls) {
    caFile = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", caFile], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl could not make a certificate: ${r.stderr}`);
    sslConf = `ssl = yes\nssl_cert = <${caFile}\nssl_key = <${key}\n`;
  }
  const logFile = join(dir, "dovecot.log");
  const conf = join(dir, "dovecot.conf");
  writeFileSync(conf, [
    "protocols = imap",
    "listen = 127.0.0.1",
    `base_dir = ${join(dir, "run")}`,
    `state_dir = ${join(dir, "state")}`,
    `log_path = ${logFile}`,
    "disable_plaintext_auth = no",
    "auth_mechanisms = plain login",
    sslConf,
    root ? "default_login_user = dovenull\ndefault_internal_user = dovecot" : `default_login_user = ${userInfo().username}\ndefault_internal_user = ${userInfo().username}`,
    `first_valid_uid = ${Math.min(mailUid, 8)}`,
    `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${join(dir, "passwd")}\n}`,
    `userdb {\n  driver = passwd-file\n  args = username_format=%u ${join(dir, "passwd")}\n}`,
    `mail_location = maildir:${join(dir, "mail", "%u")}`,
    "namespace inbox {\n  inbox = yes\n  separator = /\n}",
    `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    address = 127.0.0.1\n    port = ${tlsPort}\n${opts.tls ? "    ssl = yes\n" : ""}  }\n}`,
    "",
  ].join("\n"));
  if (root) {
    const own = (p: string) => {
      chownSync(p, mailUid, mailGid);
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) own(join(p, e.name)); else chownSync(join(p, e.name), mailUid, mailGid);
    };
    own(join(dir, "mail"));
    own(join(dir, "home"));
  }
  const proc = spawn(DOVECOT_BIN, ["-F", "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  let out = "";
  proc.stdout.on("data", (b: Buffer) => { out += b.toString(); });
  proc.stderr.on("data", (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<void>((r) => proc.once("exit", () => { live.delete(proc); r(); }));
  const log = () => out + (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const deadline = Date.now() + 15000;
  for (;;) {
    if (!live.has(proc)) throw new Error(`dovecot exited during start:\n${log()}`);
    if (await greets(port)) break;
    if (Date.now() > deadline) { proc.kill("SIGKILL"); throw new Error(`dovecot did not answer on ${port}:\n${log()}`); }
    await sleep(50);
  }
  let n = 0;
  const folderDir = (folder = "INBOX") => join(mail, folder === "INBOX" ? "" : "." + folder);
  const names = (folder?: string, seenOnly = false): string[] => {
    const out: string[] = [];
    for (const sub of ["new", "cur"]) {
      for (const f of readdirSync(join(folderDir(folder), sub))) {
        const [base, info = ""] = f.split(":2,");
        if (!seenOnly || /S/.test(info)) out.push(base!);
      }
    }
    return out.sort();
  };
  const stop = async () => {
    if (!live.has(proc)) return;
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
    rmSync(join(dir, "run"), { recursive: true, force: true });
  };
  return {
    host: "127.0.0.1", port, tlsPort, caFile, user, password,
    deliver(text, folder) {
      // maildir: write in tmp/, rename into new/ (a unique name per mail)
      const name = `${Date.now()}.M${++n}P${process.pid}.test`;
      const tmp = join(folderDir(folder), "tmp", name);
      writeFileSync(tmp, text);
      if (root) chownSync(tmp, mailUid, mailGid);
      const dest = join(folderDir(folder), "new", name);
      renameSync(tmp, dest);
      return name;
    },
    seen: (folder) => new Set(names(folder, true)),
    all: (folder) => names(folder),
    stop,
    log,
    [Symbol.asyncDispose]: stop,
  };
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.setTimeout(1000);
    s.once("data", (d: Buffer) => { s.destroy(); resolve(d.toString().startsWith("* OK")); });
    s.once("error", () => resolve(false));
    s.once("timeout", () => { s.destroy(); resolve(false); });
  });
}
