// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

const UUID = "2f8d3a59-1c4b-4f6e-9d7a-0b1c2d3e4f50";
/** Lookyloo's POST /submit: the capture's UUID as a JSON string. */
function lookyloo(req: SeenRequest): Answer {
  if (req.method !== "POST" || req.path !== "/submit") return { status: 404, body: "" };
  const { url } = JSON.parse(req.body) as { url: string };
  if (url.includes("old")) return { body: UUID }; // older instances answer plain text
  if (url.includes("broken")) return { body: { error: "no" } };
  if (url.includes("slow")) return "hang";
  return { body: JSON.stringify(UUID) };
}
async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(lookyloo);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}

test("lookyloo: source.url is submitted with the user agent, screenshot_url points to the capture (normal answer)", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.url": "http://example.com/phish" };
    const out = await runBot(bot, { params: { instance_url: url, http_user_agent: "intelmq-test" }, input: [input, { __type: "Event", "source.url": "http://example.com/old" }] });
    assert.deepEqual(out.output._default, [
      { ...input, screenshot_url: `${url}/tree/${UUID}` },
      { __type: "Event", "source.url": "http://example.com/old", screenshot_url: `${url}/tree/${UUID}` },
    ]);
    assert.deepEqual(JSON.parse(seen[0]!.body), { url: "http://example.com/phish", user_agent: "intelmq-test" });
  });
});

test("lookyloo: no instance there (404), a malformed answer and a timeout fail the message (dumped); no url passes", async () => {
  await withApi(async (url) => {
    const none = await runBot(bot, { params: { instance_url: `${url}/nothing/`, error_max_retries: 0 }, input: [{ __type: "Event", "source.url": "http://example.com/" }] });
    assert.equal(none.dumped, 1);
    assert.match(String(none.dumps[0]!.traceback), /HTTP status code was 404/);
    const broken = await runBot(bot, { params: { instance_url: url, error_max_retries: 0 }, input: [{ __type: "Event", "source.url": "http://example.com/broken" }] });
    assert.match(String(broken.dumps[0]!.traceback), /Malformed response/);
    const slow = await runBot(bot, { params: { instance_url: url, error_max_retries: 0, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }, input: [{ __type: "Event", "source.url": "http://example.com/slow" }] });
    assert.equal(slow.dumped, 1);
    assert.deepEqual((await runBot(bot, { params: { instance_url: url }, input: [{ __type: "Event", comment: "x" }] })).output._default, [{ __type: "Event", comment: "x" }]);
  });
});

test("lookyloo: the same URL twice is submitted once (cache)", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: { instance_url: url } });
    try {
      const input = { __type: "Event", "source.url": "http://example.com/phish" };
      const out = await b.process([input, input]);
      assert.equal(out.output._default![1]!.screenshot_url, `${url}/tree/${UUID}`);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
