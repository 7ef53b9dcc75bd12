// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { src } from "../../../test/helpers/paths.js";
import { json, startPeer, testCollector, unb64 } from "../lib/testing.js";
import bot, { hasMd5Item } from "./index.js";

const fixture = (name: string) => readFileSync(src("services/collectors/fireeye/fixtures", name), "utf8");
const USER = "-sUu5fYdJXYIXtEyQ8AqmIWvHZRAjtyhvH1dT7JGQlV9aCFoNCuO7R8W6ZFJqM_alhU";
const BASIC = "Basic " + Buffer.from(`${USER}:${USER}`).toString("base64");
const SECOND = "2b2b2b2b-0000-4000-8000-000000000002";

async function appliance(faults: { login?: number; second?: number } = {}) {
  const alerts = JSON.parse(fixture("alerts.json")) as { alert: Record<string, unknown>[] };
  alerts.alert.push({ ...alerts.alert[0], uuid: SECOND, product: "MAS" }, { ...alerts.alert[0], uuid: "ignored", name: "DOMAIN_MATCH" });
  return startPeer((req, res) => {
    if (req.headers.authorization !== BASIC) return json(res, {}, 401);
    if (req.method === "POST" && req.url === "/wsapis/v2.0.0/auth/login") {
      if (faults.login) { res.writeHead(faults.login); return res.end(); }
      res.writeHead(200, { "X-FeApi-Token": "1234567890" });
      return res.end();
    }
    if (req.headers["x-feapi-token"] !== "1234567890") return json(res, {}, 401);
    if (req.url === "/wsapis/v2.0.0/alerts?duration=24_hours") return json(res, alerts);
    const m = /^\/wsapis\/v2\.0\.0\/openioc\?alert_uuid=(.+)$/.exec(req.url);
    if (m && m[1] === SECOND && faults.second) { res.writeHead(faults.second); return res.end("boom"); }
    if (m) {
      res.writeHead(200, { "content-type": "application/xml" });
      return res.end(m[1] === SECOND ? fixture("openioc.xml").replace("8835182046018028622", "second") : fixture("openioc.xml"));
    }
    json(res, {}, 404);
  });
}

const params = (url: string) => ({ host: "myfireeye.local", http_username: USER, http_password: USER, request_duration: "24_hours", name: "FireeyeCollector", api_url: `${url}/wsapis/v2.0.0/` });

test("the OpenIOC of each malware alert with an MD5 item is a report, as IntelMQ recorded", async () => {
  const peer = await appliance();
  const c = await testCollector(bot, params(peer.url));
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.equal(r.reports.length, 2);
    assert.equal(unb64(r.reports[0]!.raw), fixture("openioc.xml"));
    assert.equal(r.reports[0]!["feed.name"], "FireeyeCollector");
    assert.ok(!peer.requests.some((q) => q.url.includes("ignored")));
    assert.equal(hasMd5Item('<IndicatorItem><Context search="FileItem/Sha256sum"/></IndicatorItem>'), false);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});

test("the second IOC download failing sends nothing; a refused login fails the round", async () => {
  const faults: { second?: number; login?: number } = { second: 500 };
  const peer = await appliance(faults);
  const c = await testCollector(bot, params(peer.url));
  try {
    const r = await c.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, []);
    delete faults.second;
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((x) => unb64(x.raw).includes("second")), [false, true], "both IOCs, once each");
    assert.equal(r2.duplicates, 0);
    faults.login = 500;
    const bad = await c.round();
    assert.equal(bad.failures, 1);
    assert.deepEqual(bad.reports, []);
  } finally {
    await c.shutdown();
    await peer.close();
  }
});
