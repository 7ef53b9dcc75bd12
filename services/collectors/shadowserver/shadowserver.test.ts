// SPDX-License-Identifier: AGPL-3.0-only
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { src } from "../../../test/helpers/paths.js";
import { createLibraryBot, createLogger, startBot } from "../../../shared/runtime/index.js";
import { connectJetStream, type Broker } from "../../../shared/broker/index.js";
import { startNatsServer } from "../../../test/helpers/nats-server.js";
import { json, startPeer, testCollector, unb64, type Peer } from "../lib/testing.js";
import bot, { BUCKET, cacheKey, listBody } from "./index.js";

const LIST = readFileSync(src("services/collectors/shadowserver/fixtures/reports-list.json"), "utf8");
const KEY = "MoG16eky3AxfdSj-vKTmEPOtjKdPPoXsNtKu21bgZTMXBFv8D7bYzfZl8IynMuNnioA";
const SECRET = "s3cr3t";
let peer: Peer;
/** Report ids whose download fails, with the status; `once`: only the next download fails. */
let failing = new Map<string, number>();
let once = false;

before(async () => {
  peer = await startPeer((req, res) => {
    if (req.method === "POST" && req.url === "/api2/reports/list") {
      const want = createHmac("sha256", SECRET).update(req.body).digest("hex");
      if (req.headers.hmac2 !== want) return json(res, { error: "bad hmac" });
      const body = JSON.parse(req.body.toString()) as { reports?: string[] };
      if (body.reports?.includes("empty")) return json(res, {});
      if (body.reports?.includes("refused")) return json(res, { error: "Invalid API key" });
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(LIST);
    }
    const id = req.url.slice("/dl/".length);
    if (req.method === "GET" && req.url.startsWith("/dl/")) {
      const status = failing.get(id);
      if (status) {
        if (once) failing.delete(id);
        res.writeHead(status);
        return res.end("server error");
      }
      res.writeHead(200, { "content-type": "text/csv" });
      return res.end(`"timestamp","ip"\n"2020-08-02 00:00:00","192.0.2.${id.length}" ${id}\n`);
    }
    res.writeHead(404);
    res.end();
  });
});
after(() => peer.close());

const params = (extra: Record<string, unknown> = {}) => ({
  name: "shadowservercollector", api_key: KEY, secret: SECRET, reports: "anarres",
  types: ["scan_smb", "cisco_smart_install", "nonexistent"],
  api_url: `${peer.url}/api2/`, download_url: `${peer.url}/dl/`, ...extra,
});

test("the list body is written as IntelMQ writes it, dated the last two days", () => {
  const today = new Date("2026-11-22T11:05:50Z");
  assert.equal(listBody(KEY, ["anarres"], today), `{ "apikey": "${KEY}" ,"date": "2026-11-20:2026-11-22" ,"reports": ["anarres"]}`);
  assert.equal(listBody("k", ["a", "b"], today), `{ "apikey": "k" ,"date": "2026-11-20:2026-11-22" ,"reports": ["a", "b"]}`);
  assert.equal(listBody("k", [], today), `{ "apikey": "k" ,"date": "2026-11-20:2026-11-22" }`);
  assert.equal(cacheKey("2020-08-02-scan_smb-anarres-geo.csv"), "f.2020-08-02-scan_smb-anarres-geo.csv");
  assert.match(cacheKey("a file with spaces.csv"), /^h\.[0-9a-f]{64}$/);
});

test("the reports of the wanted types become reports; a second round fetches nothing again", async () => {
  failing = new Map();
  const c = await testCollector(bot, params());
  try {
    const start = peer.requests.length;
    const r1 = await c.round();
    assert.equal(r1.failures, 0);
    assert.deepEqual(r1.reports.map((r) => r["extra.file_name"]), ["2020-08-02-scan_smb-anarres-geo.csv", "2020-08-02-cisco_smart_install-anarres-geo.csv"]);
    assert.equal(r1.reports[0]!["feed.name"], "shadowservercollector");
    assert.equal(r1.reports[0]!["feed.accuracy"], 100);
    assert.match(unb64(r1.reports[0]!.raw), /xNDSuwXrKnrLrDopU926rR75CAESMWesVCKsuyI8b8ncTv7GCX/);
    const reqs = peer.requests.slice(start);
    assert.deepEqual(reqs.map((r) => `${r.method} ${r.url}`), [
      "POST /api2/reports/list", "GET /dl/xNDSuwXrKnrLrDopU926rR75CAESMWesVCKsuyI8b8ncTv7GCX", "GET /dl/unnzVtn92tS9459rKIEz2J8qb7oJDv0Fa2feGUOiJLCDLqBXnN",
    ]);
    assert.match(reqs[0]!.body.toString(), new RegExp(`^\\{ "apikey": "${KEY}" ,"date": "\\d{4}-\\d\\d-\\d\\d:\\d{4}-\\d\\d-\\d\\d" ,"reports": \\["anarres"\\]\\}$`));
    const kv = await c.bot.broker.kv.open(BUCKET, 0);
    assert.equal(await kv.get(cacheKey("2020-08-02-scan_smb-anarres-geo.csv")), "1");
    const r2 = await c.round();
    assert.deepEqual(r2.reports, []);
    assert.equal(peer.requests.length, start + 4, "only the list was asked for again");
  } finally {
    await c.shutdown();
  }
});

test("a download failing mid-round: the round fails, nothing is remembered; the next round sends only what is missing", async () => {
  failing = new Map([["unnzVtn92tS9459rKIEz2J8qb7oJDv0Fa2feGUOiJLCDLqBXnN", 500]]);
  const c = await testCollector(bot, params());
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1);
    assert.deepEqual(r1.reports.map((r) => r["extra.file_name"]), ["2020-08-02-scan_smb-anarres-geo.csv"]);
    const kv = await c.bot.broker.kv.open(BUCKET, 0);
    assert.equal(await kv.get(cacheKey("2020-08-02-scan_smb-anarres-geo.csv")), null, "not remembered before commit");
    failing = new Map();
    const r2 = await c.round();
    assert.equal(r2.failures, 0);
    assert.deepEqual(r2.reports.map((r) => r["extra.file_name"]), ["2020-08-02-cisco_smart_install-anarres-geo.csv"], "the first report is not sent twice");
    assert.equal(r2.duplicates, 0);
    assert.equal(await kv.get(cacheKey("2020-08-02-scan_smb-anarres-geo.csv")), "1");
    assert.equal(await kv.get(cacheKey("2020-08-02-cisco_smart_install-anarres-geo.csv")), "1");
    assert.deepEqual((await c.round()).reports, []);
  } finally {
    await c.shutdown();
  }
});

test("a failure retried within the round (error_max_retries) sends each report once", async () => {
  failing = new Map([["unnzVtn92tS9459rKIEz2J8qb7oJDv0Fa2feGUOiJLCDLqBXnN", 503]]);
  once = true;
  const c = await testCollector(bot, params({ error_max_retries: 1 }));
  try {
    const r1 = await c.round();
    assert.equal(r1.failures, 1, "the first attempt failed");
    assert.deepEqual(r1.reports.map((r) => r["extra.file_name"]), ["2020-08-02-scan_smb-anarres-geo.csv", "2020-08-02-cisco_smart_install-anarres-geo.csv"]);
    assert.equal(r1.duplicates, 0);
  } finally {
    once = false;
    await c.shutdown();
  }
});

test("an empty answer gives no report; an error answer fails the round; no key refuses to start", async () => {
  const c = await testCollector(bot, params({ reports: "empty" }));
  try {
    const r = await c.round();
    assert.equal(r.failures, 0);
    assert.deepEqual(r.reports, []);
  } finally {
    await c.shutdown();
  }
  const e = await testCollector(bot, params({ reports: ["refused"] }));
  try {
    const r = await e.round();
    assert.equal(r.failures, 1);
    assert.deepEqual(r.reports, []);
  } finally {
    await e.shutdown();
  }
  await assert.rejects(createLibraryBot(bot, { params: params({ api_key: null }) }), /No api_key provided/);
});

test("on JetStream: the names sent are kept in the KV bucket across bot restarts", async () => {
  failing = new Map();
  const server = await startNatsServer();
  const opened: Broker[] = [];
  const log = createLogger({ level: "CRITICAL" });
  try {
    const downloads = () => peer.requests.filter((r) => r.url.startsWith("/dl/")).length;
    const before = downloads();
    for (let run = 0; run < 2; run++) {
      const broker = await connectJetStream({ servers: server.url });
      opened.push(broker);
      const h = await startBot({ def: bot, botId: "ss-api", broker, logger: log, params: { ...params(), run_mode: "scheduled", destination_queues: "out" } });
      assert.equal(await h.done, 0);
      assert.equal(await broker.queues.depth("out"), 2, `run ${run}: the two reports, once`);
    }
    assert.equal(downloads() - before, 2, "the second run downloaded nothing");
    const kv = await opened[1]!.kv.open(BUCKET, 0);
    assert.equal(await kv.get(cacheKey("2020-08-02-cisco_smart_install-anarres-geo.csv")), "1");
  } finally {
    for (const b of opened) await b.close();
    await server.stop();
  }
});
