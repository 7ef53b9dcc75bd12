// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server speaking CIFv3's /ping and /indicators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import bot from "./index.js";
import { startHttpPeer, type PeerRequest } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string, extra: Record<string, unknown> = {}) => ({
  __type: "Event", "source.ip": ip, "feed.provider": "Prov", "feed.accuracy": 80, "classification.type": "c2-server", "time.source": "2024-09-01T05:06:07+00:00", ...extra,
});

async function cif(opts: { failOnce?: boolean } = {}) {
  const got: Record<string, unknown>[][] = [];
  let fail = opts.failOnce ?? false;
  const peer = await startHttpPeer((r: PeerRequest) => {
    if (r.headers.authorization !== "Token token=t0k") return { status: 401, body: { message: "unauthorized" } };
    if (r.path === "/ping?write=1") return { body: { status: "success", data: 1 } };
    if (r.method === "POST" && r.path === "/indicators") {
      if (fail) { fail = false; return { status: 503, body: { message: "busy" } }; }
      const list = JSON.parse(r.body) as Record<string, unknown>[];
      got.push(list);
      return { status: 201, body: { status: "success", data: list.length } };
    }
    return { status: 404 };
  });
  return { peer, got, params: { cif3_url: `${peer.url}/`, cif3_token: "t0k" } };
}

test("indicators mapped as IntelMQ maps them, fireball per request", async () => {
  const c = await cif();
  const out = await runBot(bot, {
    params: { ...HARNESS, ...c.params, fireball: 2, add_feed_provider_as_tag: true, cif3_additional_tags: "intelmq" },
    input: [encodeEnvelope([ev("192.0.2.1"), ev("192.0.2.2", { "classification.type": "phishing" }), ev("192.0.2.3", { "feed.accuracy": 0 })])],
  });
  assert.equal(out.dumped, 0);
  assert.deepEqual(c.got.map((b) => b.length), [2, 1]);
  assert.deepEqual(c.got[0]![0], {
    tags: ["Prov", "botnet", "c2", "intelmq"], provider: "Prov", confidence: 8, indicator: "192.0.2.1", lasttime: "2024-09-01T05:06:07+00:00", itype: "ipv4",
  });
  assert.deepEqual(c.got[0]![1]!.tags, ["Prov", "phishing", "intelmq"]);
  assert.equal(c.got[1]![0]!.confidence, 5, "accuracy 0 gives the feed confidence, as IntelMQ's falsy check");
  await c.peer.close();
});

test("a refused request fails the flush and is sent again; a bad token stops the bot at start", async () => {
  const c = await cif({ failOnce: true });
  const out = await runBot(bot, { params: { ...HARNESS, ...c.params, error_max_retries: 1, fireball: 0 }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 0);
  assert.equal(c.got.length, 1);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, ...c.params, cif3_token: "bad" }, input: [] }), /Error connecting to CIFv3/);
  await c.peer.close();
});
