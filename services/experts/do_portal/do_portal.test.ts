// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

let flaky = 0;
/** do-portal's /api/1.0/ripe/contact, with API-Authorization. */
function portal(req: SeenRequest): Answer {
  if (req.headers["api-authorization"] !== "s3cret") return { status: 401, body: { message: "unauthorized" } };
  const cidr = req.query.get("cidr");
  if (cidr === "193.238.157.5") return { body: { abusecs: ["abuse@funkfeuer.at"] } };
  if (cidr === "192.0.2.50") return (flaky++ % 2 === 0 ? { status: 502, body: "Bad Gateway" } : { body: { abusecs: ["noc@example.net"] } });
  if (cidr === "192.0.2.66") return { body: { contacts: [] } };
  if (cidr === "192.0.2.99") return "hang";
  return { status: 404, body: { message: `('no such cidr', '${cidr ?? ""}')` } };
}

async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(portal);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}
const P = (url: string, more: Record<string, unknown> = {}) => ({ portal_url: url, portal_api_key: "s3cret", ...more });

test("do_portal: contacts appended or replacing (normal answer); a 502 is asked again", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.ip": "193.238.157.5", "source.abuse_contact": "old@example.com" };
    assert.equal((await runBot(bot, { params: P(url), input: [input] })).output._default![0]!["source.abuse_contact"], "old@example.com,abuse@funkfeuer.at");
    assert.equal((await runBot(bot, { params: P(url, { mode: "replace" }), input: [input] })).output._default![0]!["source.abuse_contact"], "abuse@funkfeuer.at");
    assert.equal(seen[0]!.url, "/api/1.0/ripe/contact?cidr=193.238.157.5");
    assert.equal(seen[0]!.headers.accept, "application/json");
    const retried = await runBot(bot, { params: P(url), input: [{ __type: "Event", "source.ip": "192.0.2.50" }] });
    assert.equal(retried.output._default![0]!["source.abuse_contact"], "noc@example.net");
  });
});

test("do_portal: no answer ('no such cidr' 404) and no source.ip leave the event; replace removes the old contact", async () => {
  await withApi(async (url) => {
    const input = { __type: "Event", "source.ip": "10.0.0.1", "source.abuse_contact": "old@example.com" };
    assert.deepEqual((await runBot(bot, { params: P(url), input: [input, { __type: "Event", "comment": "x" }] })).output._default, [input, { __type: "Event", "comment": "x" }]);
    assert.deepEqual((await runBot(bot, { params: P(url, { mode: "replace" }), input: [input] })).output._default, [{ __type: "Event", "source.ip": "10.0.0.1" }]);
  });
});

test("do_portal: a wrong key, a malformed answer and a timeout fail the message (dumped)", async () => {
  await withApi(async (url) => {
    for (const [params, ip, why] of [
      [P(url, { portal_api_key: "wrong" }), "193.238.157.5", /HTTP status code was 401/],
      [P(url), "192.0.2.66", /Malformed response/],
      [P(url, { http_timeout_sec: 0.2, http_timeout_max_tries: 1 }), "192.0.2.99", /No answer from/],
    ] as const) {
      const out = await runBot(bot, { params: { ...params, error_max_retries: 0 }, input: [{ __type: "Event", "source.ip": ip }] });
      assert.equal(out.dumped, 1);
      assert.match(String(out.dumps[0]!.traceback), why);
    }
  });
});

test("do_portal: a second lookup of the same address is answered by the cache", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P(url) });
    try {
      const out = await b.process([{ __type: "Event", "source.ip": "193.238.157.5" }, { __type: "Event", "source.ip": "193.238.157.5" }]);
      assert.equal(out.output._default![1]!["source.abuse_contact"], "abuse@funkfeuer.at");
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
