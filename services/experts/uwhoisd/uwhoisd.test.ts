// SPDX-License-Identifier: AGPL-3.0-only
// A whois server in the test: the peer speaks the plain whois protocol (RFC 3912) over TCP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

/** Answers `<query>\n` with "whois of <query>" (in two writes), then closes; "slow" never answers. */
async function whoisServer(): Promise<{ port: number; queries: string[]; server: Server; close(): Promise<void> }> {
  const queries: string[] = [];
  const open = new Set<Socket>();
  const server = createServer((sock) => {
    open.add(sock);
    sock.on("close", () => open.delete(sock));
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      if (!buf.includes("\n")) return;
      const q = buf.slice(0, buf.indexOf("\n")).trim();
      queries.push(q);
      if (q === "slow.example.com") return;
      sock.write(`% whois of ${q}\n`);
      sock.end(`owner: Ünïcode Example\n`);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port, queries, server,
    close: () => { for (const s of open) s.destroy(); return new Promise<void>((r) => server.close(() => r())); },
  };
}

test("uwhoisd: whois of the fqdn, the ip and the AS", async () => {
  const srv = await whoisServer();
  try {
    const out = await runBot(bot, {
      params: { server: "127.0.0.1", port: srv.port },
      input: [ev({ "source.fqdn": "www.example.com", "source.ip": "192.0.2.7", "source.asn": 64496 }), ev({ "source.url": "http://user@Host.Example.net:8080/x" })],
    });
    assert.equal(out.dumped, 0);
    const [a, b] = out.output._default!;
    assert.equal(a!["extra.whois.fqdn"], "% whois of www.example.com\nowner: Ünïcode Example\n");
    assert.equal(a!["extra.whois.ip"], "% whois of 192.0.2.7\nowner: Ünïcode Example\n");
    assert.equal(a!["extra.whois.asn"], "% whois of AS64496\nowner: Ünïcode Example\n");
    assert.equal(b!["extra.whois.fqdn"], "% whois of host.example.net\nowner: Ünïcode Example\n");
    assert.deepEqual(srv.queries, ["www.example.com", "192.0.2.7", "AS64496", "host.example.net"]);
  } finally {
    await srv.close();
  }
});

test("uwhoisd: a server that does not answer in time, or is not there, fails the message (retried, then dumped)", async () => {
  const srv = await whoisServer();
  try {
    const slow = await runBot(bot, {
      params: { server: "127.0.0.1", port: srv.port, whois_timeout: 0.3, error_max_retries: 1, error_retry_delay: 0 },
      input: [ev({ "source.fqdn": "slow.example.com" })],
    });
    assert.equal(slow.dumped, 1);
    assert.deepEqual(slow.output._default, []);
    assert.deepEqual(srv.queries, ["slow.example.com", "slow.example.com"]);
  } finally {
    await srv.close();
  }
  const gone = await runBot(bot, { params: { server: "127.0.0.1", port: srv.port, error_max_retries: 0 }, input: [ev({ "source.ip": "192.0.2.7" })] });
  assert.equal(gone.dumped, 1);
  assert.match(gone.dumps[0]!.traceback.toString(), /ECONNREFUSED/);
});

test("uwhoisd: an event without source fields passes unchanged, no query", async () => {
  const srv = await whoisServer();
  try {
    const input = [ev({ "destination.ip": "192.0.2.7" })];
    const out = await runBot(bot, { params: { server: "127.0.0.1", port: srv.port }, input });
    assert.deepEqual(out.output._default, input);
    assert.deepEqual(srv.queries, []);
  } finally {
    await srv.close();
  }
});
