// SPDX-License-Identifier: AGPL-3.0-only
// A loopback HTTP server speaking the ESM's rs/esm/v2 login and watchlist calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import { encodeEnvelope } from "../../../shared/message/index.js";
import bot from "./index.js";
import { startHttpPeer, type PeerRequest } from "../../../test/helpers/http-peer.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const ev = (ip: string) => ({ __type: "Event", "source.ip": ip });

async function esm(opts: { expireOnce?: boolean } = {}) {
  const added: string[] = [];
  let expire = opts.expireOnce ?? false;
  const peer = await startHttpPeer((r: PeerRequest) => {
    if (r.path === "/rs/esm/v2/login") {
      const b = JSON.parse(r.body) as { username: string; password: string };
      if (Buffer.from(b.username, "base64").toString() !== "NGCP" || Buffer.from(b.password, "base64").toString() !== "pw") return { status: 401 };
      return { status: 201, headers: { "set-cookie": "JWTToken=abc; Path=/", "xsrf-token": "xyz" } };
    }
    if (r.headers.cookie !== "JWTToken=abc" || r.headers["x-xsrf-token"] !== "xyz") return { status: 401 };
    if (r.path.startsWith("/rs/esm/v2/sysGetWatchlists?")) return { body: [{ name: "Other", id: 1 }, { name: "Bad IPs", id: 42 }] };
    if (r.path === "/rs/esm/v2/sysAddWatchlistValues") {
      if (expire) { expire = false; return { status: 401 }; }
      const b = JSON.parse(r.body) as { watchlist: { value: number }; values: string };
      assert.equal(b.watchlist.value, 42);
      added.push(...(JSON.parse(b.values) as string[]));
      return { status: 200 };
    }
    return { status: 404 };
  });
  return { peer, added, params: { esm_url: `${peer.url}/rs/esm/v2`, esm_password: "pw", esm_watchlist: "Bad IPs" } };
}

test("an input's values added with one call to the named watchlist, after logging in", async () => {
  const e = await esm();
  const out = await runBot(bot, { params: { ...HARNESS, ...e.params }, input: [encodeEnvelope([ev("192.0.2.1"), ev("192.0.2.2")])] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(e.added, ["192.0.2.1", "192.0.2.2"]);
  assert.equal(e.peer.requests.filter((r) => r.path.endsWith("sysAddWatchlistValues")).length, 1);
  await e.peer.close();
});

test("an expired session: logged in again; an unknown watchlist, a wrong password: the bot does not start", async () => {
  const e = await esm({ expireOnce: true });
  const out = await runBot(bot, { params: { ...HARNESS, ...e.params }, input: [ev("192.0.2.1")] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(e.added, ["192.0.2.1"]);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, ...e.params, esm_watchlist: "Nope" }, input: [] }), /not found/);
  await assert.rejects(runBot(bot, { params: { ...HARNESS, ...e.params, esm_password: "bad" }, input: [] }), /Could not Login/);
  await e.peer.close();
});

test("an event without the field is dumped; field: destination.ip", async () => {
  const e = await esm();
  const out = await runBot(bot, { params: { ...HARNESS, ...e.params, field: "destination.ip" }, input: [ev("192.0.2.1"), { __type: "Event", "destination.ip": "198.51.100.7" }] });
  assert.equal(out.dumped, 1);
  assert.deepEqual(e.added, ["198.51.100.7"]);
  await e.peer.close();
});
