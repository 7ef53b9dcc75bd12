// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

/** Splunk's REST API: POST /services/search/jobs -> sid; GET .../results/ 204 while running, then 200. */
function splunk(): (req: SeenRequest) => Answer {
  const jobs = new Map<string, { search: string; polls: number }>();
  return (req) => {
    if (req.headers.authorization !== "Bearer TOKEN") return { status: 401, body: { messages: [{ type: "WARN", text: "call not properly authenticated" }] } };
    if (req.method === "POST" && req.path === "/services/search/jobs") {
      const form = new URLSearchParams(req.body);
      const sid = `1700000000.${jobs.size + 1}`;
      jobs.set(sid, { search: form.get("search") ?? "", polls: 0 });
      return { status: 201, body: { sid } };
    }
    const m = /^\/services\/search\/jobs\/([^/]+)\/results\/$/.exec(req.path);
    const job = m ? jobs.get(decodeURIComponent(m[1]!)) : undefined;
    if (!job || req.query.get("output_mode") !== "json") return { status: 404, body: { messages: [{ type: "FATAL", text: "Unknown sid." }] } };
    if (job.polls++ === 0) return { status: 204 };
    const ip = /"ip"="([^"]*)"/.exec(job.search)?.[1];
    if (ip === "192.0.2.66") return { body: { preview: false } };
    if (ip === "192.0.2.99") return "hang";
    const rows = ip === "192.0.2.1" ? [{ user: "alice", host: "ws1" }]
      : ip === "192.0.2.2" ? [{ user: "bob", host: "ws2" }, { user: "carol", host: "ws3" }] : [];
    return { body: { preview: false, init_offset: 0, results: job.search.endsWith("| head 1") ? rows.slice(0, 1) : rows } };
  };
}
async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(splunk());
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}
const P = (url: string, more: Record<string, unknown> = {}) => ({
  url, auth_token: "TOKEN", saved_search: "user by ip", retry_interval: 0.01,
  search_parameters: { "source.ip": "ip" }, result_fields: { user: "source.account", host: "extra.host" }, ...more,
});

test("splunk_saved_search: the saved search runs with the event's values, its result fills fields (normal answer)", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.ip": "192.0.2.1" };
    const out = await runBot(bot, { params: P(url), input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.account": "alice", "extra.host": "ws1" }]);
    assert.equal(new URLSearchParams(seen[0]!.body).get("search"), '|savedsearch "user by ip" "ip"="192.0.2.1"');
    assert.equal(seen.length, 3, "start, one 204, the results");
  });
});

test("splunk_saved_search: several results (use_first, ignore, drop, limit) and none (send, drop)", async () => {
  await withApi(async (url) => {
    const two = { __type: "Event", "source.ip": "192.0.2.2" };
    assert.equal((await runBot(bot, { params: P(url), input: [two] })).output._default![0]!["source.account"], "bob");
    assert.deepEqual((await runBot(bot, { params: P(url, { multiple_result_handling: ["ignore", "send"] }), input: [two] })).output._default, [two]);
    assert.deepEqual((await runBot(bot, { params: P(url, { multiple_result_handling: "warn,drop" }), input: [two] })).output._default, []);
    assert.equal((await runBot(bot, { params: P(url, { multiple_result_handling: ["limit"] }), input: [two] })).output._default![0]!["extra.host"], "ws2");
    const none = { __type: "Event", "source.ip": "198.51.100.7" };
    assert.deepEqual((await runBot(bot, { params: P(url), input: [none, { __type: "Event", comment: "no ip" }] })).output._default, [none, { __type: "Event", comment: "no ip" }]);
    assert.deepEqual((await runBot(bot, { params: P(url, { not_found: ["drop"] }), input: [none] })).output._default, []);
  });
});

test("splunk_saved_search: contradictory or missing settings stop the bot at start", async () => {
  await assert.rejects(createLibraryBot(bot, { params: { url: "http://127.0.0.1:1", auth_token: "x" } }), /No Splunk saved search specified/);
  await assert.rejects(createLibraryBot(bot, { params: P("http://127.0.0.1:1", { not_found: ["send", "drop"] }) }), /Cannot both drop and send/);
  await assert.rejects(createLibraryBot(bot, { params: P("http://127.0.0.1:1", { multiple_result_handling: ["limit", "warn"] }) }), /limited to one/);
});

test("splunk_saved_search: an existing field fails the event unless overwrite is set", async () => {
  await withApi(async (url) => {
    const input = { __type: "Event", "source.ip": "192.0.2.1", "source.account": "someone" };
    assert.equal((await runBot(bot, { params: P(url, { error_max_retries: 0 }), input: [input] })).dumped, 1);
    assert.equal((await runBot(bot, { params: P(url, { overwrite: false }), input: [input] })).output._default![0]!["source.account"], "someone");
    assert.equal((await runBot(bot, { params: P(url, { overwrite: true }), input: [input] })).output._default![0]!["source.account"], "alice");
  });
});

test("splunk_saved_search: a refused token, a malformed answer and a timeout fail the message (dumped)", async () => {
  await withApi(async (url) => {
    for (const [params, ip, why] of [
      [P(url, { auth_token: "wrong" }), "192.0.2.1", /HTTP status code was 401/],
      [P(url), "192.0.2.66", /Malformed response/],
      [P(url, { http_timeout_sec: 0.2, http_timeout_max_tries: 1 }), "192.0.2.99", /No answer from/],
    ] as const) {
      const out = await runBot(bot, { params: { ...params, error_max_retries: 0 }, input: [{ __type: "Event", "source.ip": ip }] });
      assert.equal(out.dumped, 1);
      assert.match(String(out.dumps[0]!.traceback), why);
    }
  });
});

test("splunk_saved_search: the same search twice runs once (cache)", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P(url) });
    try {
      const input = { __type: "Event", "source.ip": "192.0.2.1" };
      const out = await b.process([input, input]);
      assert.equal(out.output._default![1]!["source.account"], "alice");
      assert.equal(seen.filter((r) => r.method === "POST").length, 1);
    } finally { await b.shutdown(); }
  });
});
