// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { json, startPeer, testCollector, unb64 } from "../lib/testing.js";
import bot from "./index.js";

const SERVERS = [
  { url: "http://malicious.example.com/gate.php", type: "C_AND_C", status: "ONLINE", country: "US", ip: "192.0.2.5", firstSeenAt: "2016-01-01T00:00:00+0000" },
  { url: "http://bad.example.net/panel/", type: "PHISHING", status: "ONLINE", country: "DE", ip: "198.51.100.7", firstSeenAt: "2016-01-02T00:00:00+0000" },
];

test("the online crime servers become one report; a dropped answer sends nothing", async () => {
  let drop = true;
  const peer = await startPeer((req, res) => {
    if (req.headers.authorization !== "bearer t0k") return json(res, { error: "unauthorized" }, 401);
    if (req.url !== "/v1/crimeserver/online") return json(res, {}, 404);
    if (drop) { res.writeHead(200, { "content-length": "100000" }); res.write('{"crimeServers": [{"url"', () => res.destroy()); return; }
    json(res, { meta: { updated: "2016-01-02T00:00:00+0000" }, crimeServers: SERVERS });
  });
  const c = await testCollector(bot, { name: "Blueliv", api_key: "t0k", api_url: peer.url });
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(r1.reports, []);
    drop = false;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.equal(r2.reports.length, 1, "the list once, nothing of the dropped answer");
    assert.equal(r2.duplicates, 0);
    assert.deepEqual(JSON.parse(unb64(r2.reports[0]!.raw)), SERVERS);
    assert.equal(r2.reports[0]!["feed.name"], "Blueliv");
    const bad = await testCollector(bot, { api_key: "wrong", api_url: peer.url });
    assert.equal((await bad.round()).failures, 1);
    await bad.shutdown();
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
