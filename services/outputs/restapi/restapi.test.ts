// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server as the REST API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import bot from "./index.js";
import { startHttpPeer } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip, "extra.n": 1, raw: "eA==" });

test("each event POSTed as JSON (IntelMQ's to_dict, raw kept) with the auth header", async () => {
  const peer = await startHttpPeer(() => ({ status: 201, body: { ok: true } }));
  const out = await runBot(bot, { params: { ...HARNESS, host: `${peer.url}/events`, auth_type: "http_header", auth_token_name: "X-Key", auth_token: "s3cret" }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 0);
  const [r] = peer.requests;
  assert.equal(r!.method, "POST");
  assert.equal(r!.path, "/events");
  assert.equal(r!.headers["x-key"], "s3cret");
  assert.equal(r!.headers["content-type"], "application/json; charset=utf-8");
  assert.deepEqual(JSON.parse(r!.body), { "extra.n": 1, raw: "eA==", "source.ip": "192.0.2.1" });
  await peer.close();
});

test("http_basic_auth, hierarchical_output, use_json false (a form)", async () => {
  const peer = await startHttpPeer(() => ({ status: 200 }));
  await runBot(bot, { params: { ...HARNESS, host: peer.url, auth_type: "http_basic_auth", auth_token_name: "u", auth_token: "p", hierarchical_output: true }, input: [ev("192.0.2.1")] });
  await runBot(bot, { params: { ...HARNESS, host: peer.url, use_json: false }, input: [ev("192.0.2.2")] });
  assert.equal(peer.requests[0]!.headers.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
  assert.deepEqual(JSON.parse(peer.requests[0]!.body), { extra: { n: 1 }, raw: "eA==", source: { ip: "192.0.2.1" } });
  assert.equal(peer.requests[1]!.body, "source.ip=192.0.2.2&extra.n=1&raw=eA%3D%3D");
  await peer.close();
});

test("a non-2xx answer fails the flush; events answered 2xx before are not posted again", async () => {
  let calls = 0;
  const peer = await startHttpPeer(() => ({ status: ++calls === 2 ? 503 : 200 }));
  const out = await runBot(bot, { params: { ...HARNESS, error_max_retries: 2, host: peer.url }, input: [encodeEnvelope([ev("192.0.2.1"), ev("192.0.2.2"), ev("192.0.2.3")])] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(peer.requests.map((r) => (JSON.parse(r.body) as Record<string, string>)["source.ip"]), ["192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3"]);
  await peer.close();
  const down = await startHttpPeer(() => ({ status: 500 }));
  assert.equal((await runBot(bot, { params: { ...HARNESS, host: down.url }, input: [ev("192.0.2.1")] })).dumped, 1);
  await down.close();
  await assert.rejects(runBot(bot, { params: HARNESS, input: [] }), /host configuration failed/);
});
