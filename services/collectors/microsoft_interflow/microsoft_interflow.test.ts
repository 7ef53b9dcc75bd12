// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createLibraryBot } from "../../../shared/runtime/index.js";
import { json, startPeer, testCollector, unb64 } from "../lib/testing.js";
import bot, { BUCKET } from "./index.js";

const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
const FILES = [
  { Name: "BingMURLs_20240101.json", LastModified: iso(now - 3600_000), Size: 10 },
  { Name: "BingMURLs_20240102.json.gz", LastModified: iso(now - 1800_000), Size: 10 },
  { Name: "Other_20240102.json", LastModified: iso(now - 1800_000), Size: 10 },
  { Name: "BingMURLs_20231201.json", LastModified: iso(now - 30 * 86400_000), Size: 10 },
];

async function interflow(faults: { fail?: string } = {}) {
  return startPeer((req, res) => {
    if (req.headers["ocp-apim-subscription-key"] !== "subkey") return json(res, { statusCode: 401, message: "Access denied" }, 401);
    const u = new URL(req.url, "http://x");
    if (u.pathname === "/api/file/listsharedfiles") return json(res, FILES);
    if (u.pathname === "/api/file/download") {
      const name = u.searchParams.get("fileName")!;
      if (name === faults.fail) { res.writeHead(500); return res.end("error"); }
      const body = `[{"Url": "http://example.com/${name}"}]`;
      res.writeHead(200);
      return res.end(name.endsWith(".gz") ? gzipSync(body) : body);
    }
    json(res, {}, 404);
  });
}

test("new files matching name and time become reports once; remembered only after they are stored", async () => {
  const faults: { fail?: string } = { fail: "BingMURLs_20240102.json.gz" };
  const peer = await interflow(faults);
  const c = await testCollector(bot, { name: "Interflow", api_key: "subkey", file_match: "BingMURLs", api_url: `${peer.url}/api/file/` });
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1, "the second download failed");
    assert.deepEqual(r1.reports.map((r) => r["feed.url"]), [`${peer.url}/api/file/download?fileName=BingMURLs_20240101.json`]);
    const kv = await c.bot.broker.kv.open(BUCKET, 0);
    assert.equal(await kv.get("f.BingMURLs_20240101.json"), null, "nothing remembered in a failed round");
    delete faults.fail;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((r) => unb64(r.raw)), ['[{"Url": "http://example.com/BingMURLs_20240102.json.gz"}]'], "gunzipped; the first file not sent again");
    assert.equal(await kv.get("f.BingMURLs_20240101.json"), "True");
    assert.equal(await kv.get("f.BingMURLs_20240102.json.gz"), "True");
    assert.deepEqual((await c.round()).reports, []);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("a cache TTL shorter than not_older_than is refused at start", async () => {
  await assert.rejects(createLibraryBot(bot, { params: { api_key: "k", not_older_than: "10 days", redis_cache_ttl: 86400 } }), /TTL must be higher/);
});
