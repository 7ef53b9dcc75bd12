// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

const ATTR = "5c5b1ac6-4c28-4bd4-a6fd-0b5bc0a8000a";
const EVENT = "5c5b1a9b-b1a0-4d5a-9a8e-0a5bc0a8000a";
/** MISP's POST /attributes/restSearch (returnFormat json). */
function misp(req: SeenRequest): Answer {
  if (req.headers.authorization !== "KEY") return { status: 403, body: { name: "Authentication failed.", message: "Authentication failed.", url: req.path } };
  if (req.method !== "POST" || req.path !== "/attributes/restSearch") return { status: 404, body: { name: "Not Found", message: "Not Found", url: req.path } };
  const q = JSON.parse(req.body) as { value: string; limit: number; page: number };
  if (q.value === "192.0.2.66") return { body: { response: "oops" } };
  if (q.value === "192.0.2.99") return "hang";
  const hits = q.value === "192.0.2.1"
    ? [{ id: "1", event_id: "7", type: "ip-dst", category: "Network activity", value: q.value, uuid: ATTR, Event: { id: "7", info: "C2", uuid: EVENT, orgc_id: "1" } }]
    : [];
  return { body: { response: { Attribute: hits.slice(0, q.limit) } } };
}
async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(misp);
  try { await fn(`${api.url}/`, api.requests); } finally { await api.close(); }
}
const P = (url: string, more: Record<string, unknown> = {}) => ({ misp_url: url, misp_key: "KEY", ...more });

test("misp: the attribute and event UUIDs of source.ip (normal answer); nothing found leaves the event", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.ip": "192.0.2.1" };
    const unknown = { __type: "Event", "source.ip": "198.51.100.1" };
    const out = await runBot(bot, { params: P(url), input: [input, unknown, { __type: "Event", comment: "x" }] });
    assert.deepEqual(out.output._default, [{ ...input, "misp.attribute_uuid": ATTR, "misp.event_uuid": EVENT }, unknown, { __type: "Event", comment: "x" }]);
    assert.deepEqual(JSON.parse(seen[0]!.body), { returnFormat: "json", value: "192.0.2.1", page: 1, limit: 1 });
  });
});

test("misp: a refused key, a malformed answer and a timeout fail the message (dumped)", async () => {
  await withApi(async (url) => {
    for (const [params, ip, why] of [
      [P(url, { misp_key: "wrong" }), "192.0.2.1", /HTTP status code was 403/],
      [P(url), "192.0.2.66", /Malformed response/],
      [P(url, { http_timeout_sec: 0.2, http_timeout_max_tries: 1 }), "192.0.2.99", /No answer from/],
    ] as const) {
      const out = await runBot(bot, { params: { ...params, error_max_retries: 0 }, input: [{ __type: "Event", "source.ip": ip }] });
      assert.equal(out.dumped, 1);
      assert.match(String(out.dumps[0]!.traceback), why);
    }
  });
});

test("misp: a second lookup of the same address is answered by the cache", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P(url) });
    try {
      const out = await b.process([{ __type: "Event", "source.ip": "192.0.2.1" }, { __type: "Event", "source.ip": "192.0.2.1" }]);
      assert.equal(out.output._default![1]!["misp.event_uuid"], EVENT);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
