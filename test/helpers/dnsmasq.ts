// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A real DNS server for tests: dnsmasq on 127.0.0.1 and a free port, answering only from the
 * records given (--local zones: NXDOMAIN for other names in them, REFUSED outside), logging
 * every query so that tests can count them. And a UDP port that never answers (timeouts).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { Resolver } from "node:dns/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface DnsmasqOptions {
  /** Zones answered from the records only: "cymru.com", "in-addr.arpa"... */
  zones: string[];
  /** Extra dnsmasq options: "--txt-record=name,text", "--ptr-record=...", "--host-record=..." */
  records: string[];
}

export interface Dnsmasq {
  /** "127.0.0.1:<port>", for a bot's dns_server */
  readonly server: string;
  /** Queries seen so far, e.g. "TXT 4.3.2.1.origin.asn.cymru.com" */
  readonly queries: string[];
  /** Queries for this name (any type) logged so far; call sync() first. */
  count(name: string): number;
  /** Wait until every query sent before is in `queries` (a marker query goes through the log). */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const DNSMASQ = existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : "dnsmasq";

/** Whether dnsmasq is installed (.ci/run installs it). */
export function haveDnsmasq(): boolean {
  return spawnSync(DNSMASQ, ["--version"], { stdio: "ignore" }).status === 0;
}

async function freePort(): Promise<number> {
  // A port free for TCP; dnsmasq binds UDP and TCP on it, a clash makes it exit (retried below).
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, "close");
  return port;
}

export async function startDnsmasq(opts: DnsmasqOptions): Promise<Dnsmasq> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const args = [
      "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts",
      `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--log-queries", "--log-facility=-",
      // no answer cached by dnsmasq itself: every query of a bot reaches the log
      "--cache-size=0",
      ...opts.zones.map((z) => `--local=/${z}/`), ...opts.records,
    ];
    const child = spawn(DNSMASQ, args, { stdio: ["ignore", "ignore", "pipe"] });
    const queries: string[] = [];
    let log = "";
    let exited = false;
    let syncs = 0;
    child.on("exit", () => { exited = true; });
    const started = new Promise<boolean>((resolve) => {
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (chunk: string) => {
        log += chunk;
        let nl: number;
        while ((nl = log.indexOf("\n")) >= 0) {
          const line = log.slice(0, nl);
          log = log.slice(nl + 1);
          const m = /query\[(\w+)\] (\S+) from/.exec(line);
          if (m) queries.push(`${m[1]} ${m[2]}`);
          if (/ started, version/.test(line)) resolve(true);
        }
      });
      child.on("exit", () => resolve(false));
    });
    if (await started) {
      // "started" is logged after the sockets are bound
      return {
        server: `127.0.0.1:${port}`,
        queries,
        count: (name) => queries.filter((q) => q.split(" ")[1] === name).length,
        async sync() {
          const marker = `sync-${++syncs}.${opts.zones[0] ?? "test"}`;
          const r = new Resolver({ timeout: 2000, tries: 1 });
          r.setServers([`127.0.0.1:${port}`]);
          await r.resolveTxt(marker).catch(() => undefined);
          while (!queries.some((q) => q.endsWith(` ${marker}`))) await sleep(5);
          queries.splice(queries.findIndex((q) => q.endsWith(` ${marker}`)), 1);
        },
        async stop() {
          if (exited) return;
          const gone = once(child, "exit");
          child.kill("SIGTERM");
          await gone;
        },
      };
    }
    if (attempt >= 3) throw new Error(`dnsmasq did not start: ${log}`);
    killQuietly(child);
  }
}

function killQuietly(child: ChildProcess): void {
  try { child.kill("SIGKILL"); } catch { /* gone */ }
}

/** A UDP port on 127.0.0.1 that reads queries and never answers: lookups against it time out. */
export async function startSilentDns(): Promise<{ server: string; received: () => number; stop(): Promise<void> }> {
  const sock: Socket = createSocket("udp4");
  let n = 0;
  sock.on("message", () => { n++; });
  sock.bind(0, "127.0.0.1");
  await once(sock, "listening");
  return {
    server: `127.0.0.1:${sock.address().port}`,
    received: () => n,
    stop: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
