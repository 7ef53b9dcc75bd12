// SPDX-License-Identifier: AGPL-3.0-only
/** Against Azurite (npm), Microsoft's Azure Storage emulator, started for the test. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { request } from "undici";
import { src } from "../../../test/helpers/paths.js";
import { freePort } from "../../../test/helpers/nats-server.js";
import { testCollector, unb64 } from "../lib/testing.js";
import { blobUrl, parseConnectionString, signed } from "./blob.js";
import bot, { BUCKET } from "./index.js";

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
let azurite: ChildProcess;
let dir: string;
let port = 0;
const conn = (p: number) => `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${p}/devstoreaccount1;`;

async function call(method: string, url: string, body: Buffer | null, headers: Record<string, string> = {}): Promise<number> {
  const acc = parseConnectionString(conn(port));
  const req = signed(acc, method, url, headers, body?.length ?? 0);
  const res = await request(req.url, { method: method as "GET", headers: { ...req.headers, "content-length": String(body?.length ?? 0) }, body: body ?? undefined });
  await res.body.dump();
  return res.statusCode;
}

before(async () => {
  const bin = src("node_modules/azurite/dist/src/blob/main.js");
  assert.ok(existsSync(bin), "azurite is installed (npm devDependency)");
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), "azurite-"));
  azurite = spawn(process.execPath, [bin, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir,
    "--disableTelemetry", "--silent", "--skipApiVersionCheck", "--loose"], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  let output = "";
  azurite.stdout!.on("data", (d: Buffer) => { output += d.toString(); });
  azurite.stderr!.on("data", (d: Buffer) => { output += d.toString(); });
  for (let i = 0; ; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      if (i > 600 || azurite.exitCode !== null) throw new Error(`azurite did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const acc = parseConnectionString(conn(port));
  assert.equal(await call("PUT", `${acc.endpoint}/ctip?restype=container`, null), 201);
  for (const [name, text] of [["2024-01-01/a.json.gz", '{"SourceIp": "192.0.2.1"}\n'], ["2024-01-01/b.json.gz", '{"SourceIp": "192.0.2.2"}\n']] as const) {
    assert.equal(await call("PUT", blobUrl(acc, "ctip", name), gzipSync(text), { "x-ms-blob-type": "BlockBlob" }), 201);
  }
});
after(async () => {
  azurite.kill();
  await new Promise((r) => azurite.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
});

/** A loopback proxy to Azurite that drops the connection of downloads whose path includes `drop`. */
async function proxy(state: { drop: string | null }): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    if (state.drop && req.url!.includes(state.drop)) { req.socket.destroy(); return; }
    const up = httpRequest({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, server };
}

test("each blob is gunzipped into a report once; a download dropped midway records nothing and loses nothing", async () => {
  const state = { drop: "b.json.gz" as string | null };
  const px = await proxy(state);
  const c = await testCollector(bot, { name: "CTIP", connection_string: conn(px.port), container_name: "ctip" });
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(r1.reports.map((r) => unb64(r.raw)), ['{"SourceIp": "192.0.2.1"}\n']);
    const kv = await c.bot.broker.kv.open(BUCKET, 0);
    assert.equal((await kv.entries()).size, 0, "nothing remembered before commit");
    state.drop = null;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((r) => unb64(r.raw)), ['{"SourceIp": "192.0.2.2"}\n'], "the first blob is not sent twice");
    assert.equal(r2.reports[0]!["feed.name"], "CTIP");
    assert.equal((await kv.entries()).size, 2);
    assert.deepEqual((await c.round()).reports, []);
    // the blobs stay in the container (IntelMQ does not delete them)
    const acc = parseConnectionString(conn(port));
    assert.equal(await call("HEAD", blobUrl(acc, "ctip", "2024-01-01/a.json.gz"), null), 200);
  } finally {
    await c.shutdown();
    await new Promise<void>((r) => { px.server.closeAllConnections(); px.server.close(() => r()); });
  }
});

test("a wrong account key fails the round", async () => {
  const bad = conn(port).replace(KEY, Buffer.alloc(64, 1).toString("base64"));
  const c = await testCollector(bot, { connection_string: bad, container_name: "ctip" });
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, []);
  } finally {
    await c.shutdown();
  }
});
