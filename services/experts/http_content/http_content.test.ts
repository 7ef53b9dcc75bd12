// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

function site(req: SeenRequest): Answer {
  if (req.path === "/foo") return { body: "Some response" };
  if (req.path === "/other") return { body: "Something else" };
  if (req.path === "/slow") return "hang";
  if (req.path === "/garbage") return { status: 200, headers: { "content-length": "1000" }, body: "Some" };
  return { status: 404, body: "Some response, but not found" };
}
async function withSite(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(site);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}
const P = { needle: "Some response" };

test("http_content: the needle found is online (IntelMQ's test_content_exists), not found offline with the reason", async () => {
  await withSite(async (url) => {
    const found = { __type: "Event", "source.url": `${url}/foo` };
    assert.deepEqual((await runBot(bot, { params: P, input: [found] })).output._default, [{ ...found, status: "online" }]);
    const other = { __type: "Event", "source.url": `${url}/other` };
    assert.deepEqual((await runBot(bot, { params: P, input: [other] })).output._default, [{ ...other, status: "offline", "extra.reason": `Text Some response not found in response from ${url}/other` }]);
  });
});

test("http_content: 404 is offline (Not Found); without needle or field the event passes", async () => {
  await withSite(async (url, seen) => {
    const gone = { __type: "Event", "source.url": `${url}/gone` };
    assert.deepEqual((await runBot(bot, { params: P, input: [gone] })).output._default, [{ ...gone, status: "offline", "extra.reason": "Not Found" }]);
    assert.deepEqual((await runBot(bot, { input: [gone] })).output._default, [gone]);
    assert.deepEqual((await runBot(bot, { params: { ...P, field: "destination.url" }, input: [gone] })).output._default, [gone]);
    assert.equal(seen.length, 1);
  });
});

test("http_content: a timeout and a truncated answer are offline with the error as reason", async () => {
  await withSite(async (url) => {
    const slow = await runBot(bot, { params: { ...P, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }, input: [{ __type: "Event", "source.url": `${url}/slow` }] });
    assert.equal(slow.output._default![0]!.status, "offline");
    assert.match(String(slow.output._default![0]!["extra.reason"]), /No answer from/);
    const broken = await runBot(bot, { params: P, input: [{ __type: "Event", "source.url": `${url}/garbage` }] });
    assert.equal(broken.output._default![0]!.status, "offline");
  });
});

test("http_content: the same URL twice is requested once (cache)", async () => {
  await withSite(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P });
    try {
      const input = { __type: "Event", "source.url": `${url}/foo` };
      const out = await b.process([input, input]);
      assert.deepEqual(out.output._default!.map((e) => e.status), ["online", "online"]);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
