// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { json, startPeer, testCollector, unb64 } from "../lib/testing.js";
import bot from "./index.js";

const PULSES = [
  { id: "p1", name: "First pulse", modified: "2024-01-01T00:00:00", indicators: [{ indicator: "192.0.2.1", type: "IPv4" }] },
  { id: "p2", name: "Second", modified: "2024-01-02T00:00:00", indicators: [] },
  { id: "p3", name: "Third", modified: "2024-01-03T00:00:00", indicators: [{ indicator: "example.org", type: "domain" }] },
];

async function otx(faults: { page2?: number } = {}) {
  const peer = await startPeer((req, res) => {
    if (req.headers["x-otx-api-key"] !== "k3y") return json(res, { detail: "Authentication required" }, 403);
    const u = new URL(req.url, peer.url);
    if (u.pathname !== "/api/v1/pulses/subscribed") return json(res, {}, 404);
    const page = Number(u.searchParams.get("page") ?? "1");
    if (page === 2 && faults.page2) return json(res, { detail: "error" }, faults.page2);
    const per = 2;
    const next = page * per < PULSES.length ? `${peer.url}/api/v1/pulses/subscribed?${new URLSearchParams({ ...Object.fromEntries(u.searchParams), page: String(page + 1) })}` : null;
    json(res, { results: PULSES.slice((page - 1) * per, page * per), count: PULSES.length, next });
  });
  return peer;
}

test("every page of the subscribed pulses becomes one report", async () => {
  const peer = await otx();
  const c = await testCollector(bot, { name: "OTX", api_key: "k3y", api_url: peer.url });
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.equal(r.reports.length, 1);
    const raw = unb64(r.reports[0]!.raw);
    assert.deepEqual(JSON.parse(raw), PULSES);
    assert.ok(raw.startsWith('[{"id": "p1", "name": "First pulse"'), "Python's json.dumps spacing");
    assert.equal(peer.requests.length, 2);
    assert.match(peer.requests[0]!.url, /limit=50$/);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("modified_pulses_only asks for the last interval hours; a page failing sends nothing", async () => {
  const faults = { page2: 500 };
  const peer = await otx(faults);
  const c = await testCollector(bot, { api_key: "k3y", api_url: peer.url, modified_pulses_only: true, interval: 2 });
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, [], "the first page is not sent alone");
    const since = new URL(peer.requests[0]!.url, peer.url).searchParams.get("modified_since")!;
    assert.match(since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    assert.ok(Math.abs(Date.now() - 2 * 3600_000 - new Date(since).getTime()) < 60_000);
    faults.page2 = 0;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.equal(r2.reports.length, 1, "one report of every page, once");
    assert.equal(r2.duplicates, 0);
    assert.deepEqual(JSON.parse(unb64(r2.reports[0]!.raw)), PULSES, "the first page was asked for again, nothing lost");
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
