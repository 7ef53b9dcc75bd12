// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { MemoryBroker, connectJetStream, type Broker } from "../broker/index.js";
import { startNatsServer } from "../../test/helpers/nats-server.js";
import { startApiServer } from "../../test/helpers/api-server.js";
import { httpClient, lookupCache, HttpTimeout, MalformedResponse, parseRelative, type BotContext } from "./index.js";

const log = pino({ level: "silent" });
const ctxOf = (broker: Broker) => ({ cache: (b: string, t: number) => broker.kv.open(b, t) }) as unknown as BotContext;

test("httpClient: IntelMQ's HTTP parameters become headers, basic auth, form and query encoding; redirects are followed", async () => {
  const api = await startApiServer((req) => (req.path === "/old" ? { status: 302, headers: { location: "/new?x=1" }, body: "" } : { body: { ok: true } }));
  try {
    const http = httpClient({ http_user_agent: "UA/1", http_username: "u", http_password: "p w", http_header: { "X-Extra": "1" } }, log, { "API-Key": "k" });
    const res = await http.get(`${api.url}/path`, { query: { a: "b c", d: "é/&" } });
    assert.deepEqual(res.json(), { ok: true });
    const seen = api.requests[0]!;
    assert.equal(seen.url, "/path?a=b+c&d=%C3%A9%2F%26");
    assert.equal(seen.headers["user-agent"], "UA/1");
    assert.equal(seen.headers.authorization, `Basic ${Buffer.from("u:p w").toString("base64")}`);
    assert.equal(seen.headers["x-extra"], "1");
    assert.equal(seen.headers["api-key"], "k");
    await http.request(`${api.url}/form`, { method: "POST", body: { search: '|savedsearch "x"', output_mode: "json" } });
    assert.equal(api.requests[1]!.body, "search=%7Csavedsearch+%22x%22&output_mode=json");
    assert.equal(api.requests[1]!.headers["content-type"], "application/x-www-form-urlencoded");
    const moved = await http.get(`${api.url}/old`);
    assert.equal(moved.status, 200);
    assert.equal(api.requests.at(-1)!.url, "/new?x=1");
    await http.close();
  } finally { await api.close(); }
});

test("httpClient: a timeout is tried http_timeout_max_tries times, then HttpTimeout; not JSON is MalformedResponse", async () => {
  const api = await startApiServer((req) => (req.path === "/slow" ? "hang" : { body: "<html>" }));
  try {
    const http = httpClient({ http_timeout_sec: 0.2, http_timeout_max_tries: 3 }, log);
    await assert.rejects(http.get(`${api.url}/slow`), (e) => e instanceof HttpTimeout && /3 tries/.test(e.message));
    assert.equal(api.requests.length, 3);
    const res = await http.get(`${api.url}/html`);
    assert.equal(res.ok, true);
    assert.throws(() => res.json(), MalformedResponse);
    await http.close();
  } finally { await api.close(); }
});

test("httpClient: http:// URLs go to http_proxy as absolute-form requests; a body over maxBytes fails", async () => {
  // the "proxy" answers itself: the target (port 9, discard) is never contacted
  const proxy = await startApiServer(() => ({ body: "x".repeat(2000) }));
  try {
    const http = httpClient({ http_proxy: proxy.url, https_proxy: proxy.url }, log);
    const res = await http.get("http://127.0.0.1:9/through?x=1");
    assert.equal(res.status, 200);
    assert.equal(proxy.requests[0]!.url, "http://127.0.0.1:9/through?x=1");
    await assert.rejects(http.get("http://127.0.0.1:9/big", { maxBytes: 1000 }), /larger than 1000 bytes/);
    await http.close();
  } finally { await proxy.close(); }
});

test("parseRelative: IntelMQ's parse_relative", () => {
  assert.equal(parseRelative("4 hours"), 240);
  assert.equal(parseRelative("1 day"), 1440);
  assert.equal(parseRelative(" 2 weeks "), 20160);
  assert.equal(parseRelative("30 seconds"), 0.5);
  assert.throws(() => parseRelative("soon"));
  assert.throws(() => parseRelative("3 fortnights"));
});

async function cacheRoundTrip(a: Broker, b: Broker): Promise<void> {
  const c1 = (await lookupCache(ctxOf(a), "lookup-test", 60))!;
  const c2 = (await lookupCache(ctxOf(b), "lookup-test", 60))!;
  // keys with characters KV keys do not allow, long keys, "nothing found" (null) as a value
  const keys = ["db_ip:2001:62a:4:100:80::8", "stat:192.0.2.1", "plain-key", `q ${"x".repeat(500)}`];
  for (const [i, k] of keys.entries()) await c1.set(k, i === 0 ? null : { n: i, list: ["a@example.com"] });
  assert.equal(await c2.get(keys[0]!), null);
  assert.deepEqual(await c2.get(keys[3]!), { n: 3, list: ["a@example.com"] });
  assert.equal(await c2.get("never set"), undefined);
  assert.equal(await lookupCache(ctxOf(a), "lookup-test", 0), null, "TTL 0: no cache");
}

test("lookupCache: any key, JSON values and null, shared by instances (memory)", async () => {
  const broker = new MemoryBroker();
  try { await cacheRoundTrip(broker, broker); } finally { await broker.close(); }
});

test("lookupCache: the same on JetStream KV, across connections", async () => {
  const server = await startNatsServer();
  const a = await connectJetStream({ servers: server.url });
  const b = await connectJetStream({ servers: server.url });
  try { await cacheRoundTrip(a, b); } finally {
    await a.close();
    await b.close();
    await server.stop();
  }
});
