// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import { createLibraryBot, createLogger } from "../../../shared/runtime/index.js";
import { src } from "../../../test/helpers/paths.js";
import { testCollector } from "../lib/testing.js";
import bot, { formatUrl } from "./index.js";
import { readTar, readZip, unzip } from "./archive.js";

const fixture = (name: string) => readFileSync(src("services/collectors/http/fixtures", name));
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0, name: "Example feed" };
const BIG = "line %d of a longer text that compresses well\n".repeat(200) + "\n";

let server: Server;
let base = "";
const seen: { url: string; headers: IncomingMessage["headers"] }[] = [];
/** /flaky.zip: while set, the connection breaks halfway through the body. */
let breakFlaky = false;

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url!, headers: req.headers });
    const send = (body: Buffer | string, headers: Record<string, string> = {}) => { res.writeHead(200, headers); res.end(body); };
    switch (req.url) {
      case "/plain.txt": return send("bar text\n", { "content-type": "text/plain" });
      case "/latin1.txt": return send(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), { "content-type": "text/plain; charset=iso-8859-1" });
      case "/empty.txt": return send("");
      case "/foobar.gz": return send(fixture("bar.gz"));
      case "/two_files.zip": return send(fixture("two_files.zip"));
      case "/subdir.zip": return send(fixture("subdir.zip"));
      case "/deflated.zip": return send(fixture("deflated.zip"));
      case "/two_files.tar.gz": return send(fixture("two_files.tar.gz"));
      case "/encoded": return send(gzipSync("encoded body\n"), { "content-encoding": "gzip" });
      case "/big": return send(Buffer.alloc(5000, 0x41));
      case "/flaky.zip": {
        const zip = fixture("two_files.zip");
        if (!breakFlaky) return send(zip);
        res.writeHead(200, { "content-length": String(zip.length) });
        // cut once the first half is on its way (a destroy before the flush would send nothing)
        return res.write(zip.subarray(0, zip.length >> 1), () => res.socket!.destroy());
      }
      case "/secret": {
        if (req.headers.authorization !== "Basic " + Buffer.from("user:pw").toString("base64")) { res.writeHead(401); return res.end("no"); }
        return send("secret data\n");
      }
      case "/redirect": res.writeHead(302, { location: "/plain.txt" }); return res.end();
      default:
        if (req.url!.startsWith("/dated/")) return send("dated\n");
        res.writeHead(404, { some: "header" });
        return res.end("Should be in logs");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

async function collect(params: Record<string, unknown>) {
  const logs: string[] = [];
  const log = createLogger({ level: "INFO", destination: { write: (line: string) => { logs.push(line); } } });
  const b = await createLibraryBot(bot, { params: { ...HARNESS, ...params }, log });
  try {
    const out = await b.process();
    return { reports: out.output._default!, failures: b.stats().failure, logs: logs.join("") };
  } finally {
    await b.shutdown();
  }
}

test("a plain download becomes one report with feed.url; user agent sent", async () => {
  const { reports, failures } = await collect({ http_url: `${base}/plain.txt` });
  assert.equal(failures, 0);
  assert.equal(reports.length, 1);
  assert.equal(unb64(reports[0]!.raw), "bar text\n");
  assert.equal(reports[0]!["feed.url"], `${base}/plain.txt`);
  assert.equal(reports[0]!["feed.name"], "Example feed");
  assert.equal(reports[0]!["extra.file_name"], undefined);
  assert.match(String(seen.at(-1)!.headers["user-agent"]), /Mozilla/);
});

test("gzip with extract_files, zip without and with a name list, subdirectories, tar.gz", async () => {
  const gz = await collect({ http_url: `${base}/foobar.gz`, extract_files: true });
  assert.deepEqual(gz.reports.map((r) => [unb64(r.raw), r["extra.file_name"]]), [["bar text\n", undefined]]);
  const zipAuto = await collect({ http_url: `${base}/two_files.zip` });
  assert.deepEqual(zipAuto.reports.map((r) => [r["extra.file_name"], unb64(r.raw)]), [["bar", "bar text\n"], ["foo", "foo text\n"]]);
  const zipSome = await collect({ http_url: `${base}/two_files.zip`, extract_files: "foo" });
  assert.deepEqual(zipSome.reports.map((r) => r["extra.file_name"]), ["foo"]);
  const sub = await collect({ http_url: `${base}/subdir.zip`, extract_files: true });
  assert.deepEqual(sub.reports.map((r) => r["extra.file_name"]), ["subdir/bar", "subdir/foo"]);
  const tgz = await collect({ http_url: `${base}/two_files.tar.gz`, extract_files: true });
  assert.deepEqual(tgz.reports.map((r) => [r["extra.file_name"], unb64(r.raw)]), [["bar", "bar text\n"], ["foo", "foo text\n"]]);
  const plainGz = await collect({ http_url: `${base}/foobar.gz` });
  assert.deepEqual(Buffer.from(String(plainGz.reports[0]!.raw), "base64"), fixture("bar.gz"));
});

test("basic auth, content encoding, charset and redirects", async () => {
  const denied = await collect({ http_url: `${base}/secret` });
  assert.equal(denied.reports.length, 0);
  assert.equal(denied.failures, 1);
  const ok = await collect({ http_url: `${base}/secret`, http_username: "user", http_password: "pw" });
  assert.equal(unb64(ok.reports[0]!.raw), "secret data\n");
  const enc = await collect({ http_url: `${base}/encoded` });
  assert.equal(unb64(enc.reports[0]!.raw), "encoded body\n");
  const latin = await collect({ http_url: `${base}/latin1.txt` });
  assert.equal(unb64(latin.reports[0]!.raw), "café\n");
  const moved = await collect({ http_url: `${base}/redirect` });
  assert.equal(unb64(moved.reports[0]!.raw), "bar text\n");
});

test("404 fails the round, an empty body sends nothing, the size limit aborts", async () => {
  const missing = await collect({ http_url: `${base}/nothing-here` });
  assert.deepEqual([missing.reports.length, missing.failures], [0, 1]);
  const empty = await collect({ http_url: `${base}/empty.txt` });
  assert.deepEqual([empty.reports.length, empty.failures], [0, 0]);
  const big = await collect({ http_url: `${base}/big`, http_max_size: 1000 });
  assert.deepEqual([big.reports.length, big.failures], [0, 1]);
  const fits = await collect({ http_url: `${base}/big`, http_max_size: 5000 });
  assert.equal(fits.reports.length, 1);
});

test("the connection breaks mid-body: the round fails and sends nothing; the next round sends each file of the archive once", async () => {
  breakFlaky = true;
  const c = await testCollector(bot, { ...HARNESS, http_url: `${base}/flaky.zip` });
  try {
    const downloads = () => seen.filter((r) => r.url === "/flaky.zip").length;
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(r1.reports, [], "nothing of a partial download");
    const tried = downloads(); // with the retries of http_timeout_max_tries
    breakFlaky = false;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((r) => [r["extra.file_name"], unb64(r.raw)]), [["bar", "bar text\n"], ["foo", "foo text\n"]]);
    assert.equal(r2.duplicates, 0);
    // the collector keeps no record of a download: the failed one is not taken as fetched
    assert.equal(downloads(), tried + 1);
  } finally {
    breakFlaky = false;
    await c.shutdown();
  }
});

test("http_url_formatting fills {time[...]} (with a delta)", async () => {
  const { reports } = await collect({ http_url: `${base}/dated/{time[%Y]}.txt`, http_url_formatting: true });
  assert.equal(reports[0]!["feed.url"], `${base}/dated/${new Date().getFullYear()}.txt`);
  const now = new Date(2024, 0, 2, 3, 4, 5);
  assert.equal(formatUrl("x/{time[%Y-%m-%d %H]}", { days: -1 }, now), "x/2024-01-01 03");
  assert.equal(formatUrl("x/{{literal}}", true, now), "x/{literal}");
});

test("archive readers: deflated zip, plain tar, non-archives rejected, size limit", () => {
  const limits = { maxOutput: 1 << 20 };
  assert.deepEqual(readZip(fixture("deflated.zip"), limits).map((m) => [m.name, m.data.toString()]), [["big.txt", BIG]]);
  assert.deepEqual(readTar(fixture("two_files.tar"), limits).map((m) => m.name), ["bar", "foo"]);
  assert.throws(() => readZip(Buffer.from("not a zip"), limits), /File is not a zip file/);
  assert.throws(() => readTar(Buffer.alloc(1024, 0x41), limits), /invalid header/);
  assert.throws(() => unzip(Buffer.from("plain text"), true, limits), /Failed to uncompress/);
  assert.throws(() => readZip(fixture("deflated.zip"), { maxOutput: 100 }), /maximum size/);
});

// ---- proxy and TLS, on loopback only --------------------------------------------------------------

/** A forward proxy: absolute-form requests for http:// URLs, CONNECT tunnels for https://; loopback targets only. */
async function startProxy() {
  const seenByProxy: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((req, res) => {
    seenByProxy.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!); // absolute-form: http://host:port/path
    if (target.hostname !== "127.0.0.1") { res.writeHead(403); return res.end(); }
    const up = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on("error", () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  proxy.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    seenByProxy.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(":");
    if (host !== "127.0.0.1") { client.end("HTTP/1.1 403 Forbidden\r\n\r\n"); return; }
    const up = netConnect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    for (const s of [up, client]) { sockets.add(s); s.on("close", () => sockets.delete(s)); }
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen: seenByProxy,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); proxy.closeAllConnections(); proxy.close(() => r()); }),
  };
}

const hasOpenssl = (() => { try { execFileSync("openssl", ["version"], { stdio: "ignore" }); return true; } catch { return false; } })();

/** A self-signed certificate for 127.0.0.1, made at test time (test-only, never used outside this file). */
function selfSigned(): { dir: string; key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "http-collector-tls-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  return { dir, key, cert };
}

async function startHttps(pair: { key: string; cert: string }) {
  let requests = 0;
  const srv = createHttpsServer({ key: readFileSync(pair.key), cert: readFileSync(pair.cert) }, (req, res) => {
    requests++;
    if (req.url === "/secure.txt") { res.writeHead(200, { "content-type": "text/plain" }); return res.end("secure text\n"); }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `https://127.0.0.1:${(srv.address() as AddressInfo).port}/secure.txt`,
    requests: () => requests,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

test("http_proxy/https_proxy: an http:// download goes through the proxy as an absolute-form request", async () => {
  const proxy = await startProxy();
  try {
    const { reports, failures } = await collect({ http_url: `${base}/plain.txt`, http_proxy: proxy.url, https_proxy: proxy.url });
    assert.equal(failures, 0);
    assert.equal(reports.length, 1);
    assert.equal(unb64(reports[0]!.raw), "bar text\n");
    assert.deepEqual(proxy.seen, [`GET ${base}/plain.txt`]);
    // only one of the two set: a warning, and the download goes direct (IntelMQ's behaviour)
    const one = await collect({ http_url: `${base}/plain.txt`, http_proxy: proxy.url });
    assert.equal(one.reports.length, 1);
    assert.match(one.logs, /Both http and https proxies must be set/);
    assert.equal(proxy.seen.length, 1);
  } finally {
    await proxy.close();
  }
});

test("TLS: a self-signed certificate fails the round unless trusted (http_verify_cert false, a CA file, ssl_ca_certificate)", { skip: hasOpenssl ? false : "openssl is not installed" }, async () => {
  const pair = selfSigned();
  const srv = await startHttps(pair);
  try {
    const refused = await collect({ http_url: srv.url });
    assert.deepEqual([refused.reports.length, refused.failures], [0, 1]);
    assert.equal(srv.requests(), 0, "no request is sent over an unverified connection");
    assert.match(refused.logs, /TLS certificate verification of https:\/\/127\.0\.0\.1:\d+\/secure\.txt failed: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    assert.match(refused.logs, /http_verify_cert: false/);

    const unverified = await collect({ http_url: srv.url, http_verify_cert: false });
    assert.equal(unverified.failures, 0);
    assert.equal(unb64(unverified.reports[0]!.raw), "secure text\n");
    const unverifiedText = await collect({ http_url: srv.url, http_verify_cert: "false" });
    assert.equal(unverifiedText.reports.length, 1);

    const caAsVerify = await collect({ http_url: srv.url, http_verify_cert: pair.cert });
    assert.equal(caAsVerify.failures, 0);
    assert.equal(unb64(caAsVerify.reports[0]!.raw), "secure text\n");
    const caFile = await collect({ http_url: srv.url, ssl_ca_certificate: pair.cert });
    assert.equal(caFile.failures, 0);
    assert.equal(caFile.reports.length, 1);
    assert.equal(srv.requests(), 4);
  } finally {
    await srv.close();
    rmSync(pair.dir, { recursive: true, force: true });
  }
});

test("https through the proxy: a CONNECT tunnel, the certificate still verified at the end of it", { skip: hasOpenssl ? false : "openssl is not installed" }, async () => {
  const pair = selfSigned();
  const srv = await startHttps(pair);
  const proxy = await startProxy();
  try {
    const target = new URL(srv.url).host;
    const ok = await collect({ http_url: srv.url, http_proxy: proxy.url, https_proxy: proxy.url, ssl_ca_certificate: pair.cert });
    assert.equal(ok.failures, 0);
    assert.equal(unb64(ok.reports[0]!.raw), "secure text\n");
    assert.deepEqual(proxy.seen, [`CONNECT ${target}`]);
    const refused = await collect({ http_url: srv.url, http_proxy: proxy.url, https_proxy: proxy.url });
    assert.deepEqual([refused.reports.length, refused.failures], [0, 1]);
    assert.match(refused.logs, /TLS certificate verification of https:\/\/127\.0\.0\.1:\d+\/secure\.txt failed: self-signed certificate/);
    assert.deepEqual(proxy.seen, [`CONNECT ${target}`, `CONNECT ${target}`]);
    assert.equal(srv.requests(), 1);
  } finally {
    await proxy.close();
    await srv.close();
    rmSync(pair.dir, { recursive: true, force: true });
  }
});

/** A server on 127.0.0.2 (another host than the main one's 127.0.0.1) redirecting every request to `to`. */
async function redirector(to: string): Promise<{ url: string; close(): Promise<void> }> {
  const s = createServer((_req, res) => { res.writeHead(302, { location: to }); res.end(); });
  await new Promise<void>((r) => s.listen(0, "127.0.0.2", r));
  const port = (s.address() as { port: number }).port;
  return { url: `http://127.0.0.2:${port}/start`, close: () => new Promise((r) => s.close(() => r())) };
}

test("a redirect to another host on a loopback or private address is refused by default, with the reason", async () => {
  const r = await redirector(`${base}/plain.txt`);
  try {
    const refused = await collect({ http_url: r.url });
    assert.deepEqual([refused.reports.length, refused.failures], [0, 1]);
    assert.match(refused.logs, /refused a redirect to http:\/\/127\.0\.0\.1:\d+\/plain\.txt: 127\.0\.0\.1 is a loopback, link-local or private address \(set http_allow_private_redirects to follow it\)/);
    const allowed = await collect({ http_url: r.url, http_allow_private_redirects: true });
    assert.equal(unb64(allowed.reports[0]!.raw), "bar text\n");
  } finally {
    await r.close();
  }
});

test("credentials and custom headers are not sent to the host a redirect leads to; redirects are limited", async () => {
  const seen: Record<string, string | string[] | undefined>[] = [];
  const target = createServer((req, res) => { seen.push(req.headers); res.end("moved data\n"); });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  const r = await redirector(`http://127.0.0.1:${(target.address() as { port: number }).port}/data`);
  try {
    const got = await collect({ http_url: r.url, http_allow_private_redirects: true, http_username: "user", http_password: "pw", http_header: { "X-Api-Key": "k3y" } });
    assert.equal(unb64(got.reports[0]!.raw), "moved data\n");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!["x-api-key"], undefined, "the API key stays with its host");
    assert.equal(seen[0]!.authorization, undefined, "basic auth stays with its host");
    assert.equal(got.reports[0]!["feed.url"], r.url);
    const loop = await collect({ http_url: `${base}/redirect`, http_max_redirects: 0 });
    assert.deepEqual([loop.reports.length, loop.failures], [0, 1]);
    assert.match(loop.logs, /more than 0 redirects/);
  } finally {
    await r.close();
    await new Promise((res) => target.close(res));
  }
});
