// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot, { params } from "./index.js";

function site(req: SeenRequest): Answer {
  if (req.path === "/foo") return { body: "" };
  if (req.path === "/moved") return { status: 301, headers: { location: "/foo" }, body: "" };
  if (req.path === "/teapot") return { status: 418, body: "" };
  if (req.path === "/slow") return "hang";
  if (req.path === "/garbage") return { status: 200, headers: { "content-length": "1000" }, body: "short" };
  return { status: 404, body: "" };
}
async function withSite(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(site);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}

test("http_status: success_status_codes as IntelMQ writes them", () => {
  assert.deepEqual(params.parse({ success_status_codes: "200,418" }).success_status_codes, [200, 418]);
  assert.deepEqual(params.parse({ success_status_codes: [200, "301"] }).success_status_codes, [200, 301]);
});

test("http_status: 200 (after a redirect) is online, 404 offline with the reason (IntelMQ's test_status_200/404)", async () => {
  await withSite(async (url) => {
    const input = { __type: "Event", "source.url": `${url}/foo`, "destination.url": `${url}/bar` };
    assert.deepEqual((await runBot(bot, { input: [input] })).output._default, [{ ...input, status: "online" }]);
    assert.deepEqual((await runBot(bot, { params: { field: "destination.url" }, input: [input] })).output._default, [{ ...input, status: "offline", "extra.reason": "Not Found" }]);
    const moved = { __type: "Event", "source.url": `${url}/moved` };
    assert.equal((await runBot(bot, { input: [moved] })).output._default![0]!.status, "online");
    const teapot = { __type: "Event", "source.url": `${url}/teapot` };
    assert.equal((await runBot(bot, { params: { success_status_codes: [418] }, input: [teapot] })).output._default![0]!.status, "online");
    assert.deepEqual((await runBot(bot, { input: [{ __type: "Event", comment: "no url" }] })).output._default, [{ __type: "Event", comment: "no url" }]);
  });
});

test("http_status: a timeout and a broken answer mean offline with the error as reason; overwrite false keeps status", async () => {
  await withSite(async (url) => {
    const out = await runBot(bot, { params: { http_timeout_sec: 0.2, http_timeout_max_tries: 1 }, input: [{ __type: "Event", "source.url": `${url}/slow` }] });
    assert.equal(out.dumped, 0);
    assert.equal(out.output._default![0]!.status, "offline");
    assert.match(String(out.output._default![0]!["extra.reason"]), /No answer from/);
    const broken = await runBot(bot, { input: [{ __type: "Event", "source.url": `${url}/garbage` }] });
    assert.equal(broken.output._default![0]!.status, "offline");
    const kept = await runBot(bot, { params: { overwrite: false }, input: [{ __type: "Event", "source.url": `${url}/foo`, status: "unknown" }] });
    assert.equal(kept.output._default![0]!.status, "unknown");
  });
});

test("http_status: the same URL twice is requested once (cache); cache_ttl 0 requests each time", async () => {
  await withSite(async (url, seen) => {
    const input = { __type: "Event", "source.url": `${url}/foo` };
    const b = await createLibraryBot(bot);
    try {
      const out = await b.process([input, input]);
      assert.equal(out.output._default!.length, 2);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
    await runBot(bot, { params: { cache_ttl: 0 }, input: [input, input] });
    assert.equal(seen.length, 3);
  });
});
