// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { createLibraryBot } from "../../../shared/runtime/index.js";
import { src } from "../../../test/helpers/paths.js";
import bot, { formatUrl } from "./index.js";
import { readTar, readZip, unzip } from "./archive.js";

const fixture = (name: string) => readFileSync(src("services/collectors/http/fixtures", name));
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0, name: "Example feed" };
const BIG = "line %d of a longer text that compresses well\n".repeat(200) + "\n";

let server: Server;
let base = "";
const seen: { url: string; headers: IncomingMessage["headers"] }[] = [];

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
  const b = await createLibraryBot(bot, { params: { ...HARNESS, ...params } });
  try {
    const out = await b.process();
    return { reports: out.output._default!, failures: b.stats().failure };
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
  assert.throws(() => readZip(Buffer.from("not a zip"), limits));
  assert.throws(() => readTar(Buffer.alloc(1024, 0x41), limits));
  assert.throws(() => unzip(Buffer.from("plain text"), true, limits), /Failed to uncompress/);
  assert.throws(() => readZip(fixture("deflated.zip"), { maxOutput: 100 }), /maximum size/);
});
