// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot, { params } from "./index.js";

const NONE = { query_ripe_db_asn: false, query_ripe_db_ip: false, query_ripe_stat_asn: false, query_ripe_stat_ip: false, query_ripe_stat_geolocation: false };

/** RIPE DB and RIPEstat as their documentation shows the answers. */
function ripeApi(req: SeenRequest): Answer {
  const db = /^\/abuse-contact\/(.+)\.json$/.exec(req.path);
  if (db) {
    const r = decodeURIComponent(db[1]!);
    if (r === "193.238.157.5" || r === "as35492") return { body: { "abuse-contacts": { key: r, email: "abuse@funkfeuer.at" } } };
    if (r === "93.184.215.14") return { body: { "abuse-contacts": { key: r, email: "abuse@edg.io" } } };
    if (r === "2001:62a:4:100:80::8") return { body: { "abuse-contacts": { key: r, email: "security.zid@univie.ac.at" } } };
    return { status: 404, body: { message: `No abuse contact found for ${r}` } };
  }
  const resource = req.query.get("resource") ?? "";
  if (req.path === "/data/abuse-contact-finder/data.json") {
    if (resource === "127.0.0.1") return { body: { data: { anti_abuse_contacts: { abuse_c: [] } }, data_call_status: "supported" } };
    return { body: { data: { anti_abuse_contacts: { abuse_c: [{ email: "abuse@example.net,noc@example.net", description: "abuse-c" }] } }, data_call_status: "supported" } };
  }
  if (req.path === "/data/maxmind-geo-lite/data.json") {
    return { body: { data: { located_resources: [{ resource, locations: [{ country: "US", city: "Lansing", latitude: 42.7348, longitude: -84.6245, covered_percentage: 100 }] }] } } };
  }
  return { status: 500, body: "unexpected" };
}

async function withApi(handler: (r: SeenRequest) => Answer, fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(handler);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}

test("ripe: IntelMQ-style parameters parse", () => {
  const prm = params.parse({ query_ripe_db_asn: "false", redis_cache_db: "4", mode: "replace" });
  assert.equal(prm.query_ripe_db_asn, false);
  assert.equal(prm.mode, "replace");
  assert.throws(() => params.parse({ mode: "merge" }));
});

test("ripe: RIPE DB abuse contacts of IP addresses and ASNs (normal answer)", async () => {
  await withApi(ripeApi, async (url, seen) => {
    const input = { __type: "Event", "source.ip": "93.184.215.14", "destination.ip": "193.238.157.5", "destination.asn": 35492, "time.observation": "2015-01-01T00:00:00+00:00" };
    const out = await runBot(bot, { params: { ...NONE, query_ripe_db_asn: true, query_ripe_db_ip: true, ripe_db_url: url }, input: [input] });
    assert.equal(out.dumped, 0);
    assert.deepEqual(out.output._default, [{ ...input, "source.abuse_contact": "abuse@edg.io", "destination.abuse_contact": "abuse@funkfeuer.at" }]);
    assert.deepEqual(seen.map((r) => r.path).sort(), ["/abuse-contact/193.238.157.5.json", "/abuse-contact/93.184.215.14.json", "/abuse-contact/as35492.json"]);
  });
});

test("ripe: RIPEstat contacts are split and appended to existing ones; geolocation kept in append mode", async () => {
  await withApi(ripeApi, async (url) => {
    const input = { __type: "Event", "source.ip": "96.30.37.204", "source.abuse_contact": "old@example.com", "source.geolocation.cc": "IN" };
    const out = await runBot(bot, { params: { ...NONE, query_ripe_stat_ip: true, query_ripe_stat_geolocation: true, ripe_stat_url: url }, input: [input] });
    assert.deepEqual(out.output._default, [{
      ...input, "source.abuse_contact": "old@example.com,abuse@example.net,noc@example.net",
      "source.geolocation.city": "Lansing", "source.geolocation.latitude": 42.7348, "source.geolocation.longitude": -84.6245,
    }]);
    const replaced = await runBot(bot, { params: { ...NONE, mode: "replace", query_ripe_stat_geolocation: true, ripe_stat_url: url }, input: [input] });
    assert.equal((replaced.output._default![0] as Record<string, unknown>)["source.geolocation.cc"], "US");
  });
});

test("ripe: no answer (404 'No abuse contact found', empty list) leaves the event; replace removes the old contact", async () => {
  await withApi(ripeApi, async (url) => {
    const asOnly = { __type: "Event", "source.asn": 7713, "time.observation": "2015-01-01T00:00:00+00:00" };
    const out = await runBot(bot, { params: { ...NONE, query_ripe_db_asn: true, ripe_db_url: url }, input: [asOnly] });
    assert.deepEqual(out.output._default, [asOnly]);
    const empty = { __type: "Event", "source.ip": "127.0.0.1", "source.abuse_contact": "bla@example.com" };
    const kept = await runBot(bot, { params: { ...NONE, query_ripe_stat_ip: true, ripe_stat_url: url }, input: [empty] });
    assert.deepEqual(kept.output._default, [empty]);
    const replaced = await runBot(bot, { params: { ...NONE, mode: "replace", query_ripe_stat_ip: true, ripe_stat_url: url }, input: [empty] });
    assert.deepEqual(replaced.output._default, [{ __type: "Event", "source.ip": "127.0.0.1" }]);
  });
});

test("ripe: another 404, a malformed answer and a timeout are retried, then dumped", async () => {
  const input = { __type: "Event", "source.ip": "192.0.2.1" };
  await withApi(() => ({ status: 404, body: "" }), async (url, seen) => {
    const out = await runBot(bot, { params: { ...NONE, query_ripe_db_ip: true, ripe_db_url: url, error_max_retries: 1, error_retry_delay: 0 }, input: [input] });
    assert.equal(out.dumped, 1);
    assert.deepEqual(out.output._default, []);
    assert.equal(seen.length, 2, "tried twice");
    assert.match(out.dumps[0]!.traceback.toString(), /HTTP status code was 404/);
  });
  await withApi(() => ({ body: "not valid JSON" }), async (url) => {
    const out = await runBot(bot, { params: { ...NONE, query_ripe_stat_ip: true, ripe_stat_url: url, error_max_retries: 0 }, input: [input] });
    assert.equal(out.dumped, 1);
    assert.match(out.dumps[0]!.traceback.toString(), /Malformed response/);
  });
  await withApi(() => "hang", async (url, seen) => {
    const out = await runBot(bot, { params: { ...NONE, query_ripe_stat_ip: true, ripe_stat_url: url, http_timeout_sec: 0.2, http_timeout_max_tries: 2, error_max_retries: 0 }, input: [input] });
    assert.equal(out.dumped, 1);
    assert.equal(seen.length, 2, "http_timeout_max_tries");
    assert.match(out.dumps[0]!.traceback.toString(), /No answer from/);
  });
});

test("ripe: a second lookup of the same resource is answered by the cache", async () => {
  await withApi(ripeApi, async (url, seen) => {
    const b = await createLibraryBot(bot, { params: { ...NONE, query_ripe_db_ip: true, ripe_db_url: url } });
    try {
      const a = await b.process([{ __type: "Event", "source.ip": "93.184.215.14" }, { __type: "Event", "destination.ip": "93.184.215.14" }]);
      assert.equal(a.output._default![1]!["destination.abuse_contact"], "abuse@edg.io");
      const miss = await b.process([{ __type: "Event", "source.ip": "198.51.100.1" }, { __type: "Event", "source.ip": "198.51.100.1" }]);
      assert.equal(miss.output._default!.length, 2);
      assert.equal(seen.length, 2, "one request per resource, negative answers cached too");
    } finally { await b.shutdown(); }
  });
});
