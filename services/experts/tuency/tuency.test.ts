// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

const BASE = { "__type": "Event", "classification.taxonomy": "availability", "classification.type": "system-compromise", "feed.provider": "Some Provider", "feed.name": "FTP" };
const IP = { destinations: [{ source: "portal", name: "Thurner", contacts: [{ email: "test@ntvtn.de" }] }] };
const DOMAIN = { destinations: [{ source: "portal", name: "EineOrganisation", contacts: [{ email: "abuse+www@example.at" }] }] };

/** tuency's IntelMQ lookup API, answering as its documentation (backend/docs/IntelMQ-API.md) shows. */
function tuency(req: SeenRequest): Answer {
  if (req.path !== "/intelmq/lookup") return { status: 404, body: "<html>not found</html>" };
  if (req.headers.authorization !== "Bearer Lorem ipsum") return { status: 401, body: { error: "unauthorized" } };
  const ip = req.query.get("ip"), domain = req.query.get("domain");
  if (ip === "10.0.0.1") return { body: { ip: { destinations: [], netobject: null } } };
  if (ip === "123.123.123.23" && domain) return { body: { ip: IP, domain: DOMAIN, suppress: false, interval: { unit: "day", length: 1 } } };
  if (ip === "123.123.123.23") return { body: { ip: IP, suppress: true, interval: { unit: "days", length: 1 } } };
  if (ip === "123.123.123.24") return { body: { ip: IP, suppress: false, interval: { unit: "immediate", length: 1 } } };
  if (domain) return { body: { domain: DOMAIN, suppress: false, interval: { unit: "days", length: 1 } } };
  return { body: {} };
}

async function withApi(handler: (r: SeenRequest) => Answer, fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(handler);
  try { await fn(`${api.url}/`, api.requests); } finally { await api.close(); }
}
const P = (url: string, more: Record<string, unknown> = {}) => ({ url, authentication_token: "Lorem ipsum", ...more });

test("tuency: ip and domain, interval as extra.ttl (normal answer, IntelMQ's test_both)", async () => {
  await withApi(tuency, async (url, seen) => {
    const input = { ...BASE, "source.ip": "123.123.123.23", "source.fqdn": "www.example.at" };
    const out = await runBot(bot, { params: P(url), input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "extra.ttl": 86400, "source.abuse_contact": "test@ntvtn.de,abuse+www@example.at" }]);
    assert.equal(seen[0]!.url, "/intelmq/lookup?classification_taxonomy=availability&classification_type=system-compromise&feed_provider=Some+Provider&feed_name=FTP&feed_status=production&ip=123.123.123.23&domain=www.example.at");
    const now = await runBot(bot, { params: P(url), input: [{ ...BASE, "source.ip": "123.123.123.24" }] });
    assert.equal(now.output._default![0]!["extra.ttl"], 0);
  });
});

test("tuency: suppress sets extra.notify false; overwrite false keeps the contact", async () => {
  await withApi(tuency, async (url) => {
    const input = { ...BASE, "source.ip": "123.123.123.23", "source.abuse_contact": "abuse@example.com" };
    const out = await runBot(bot, { params: P(url), input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.abuse_contact": "test@ntvtn.de", "extra.notify": false }]);
    const kept = await runBot(bot, { params: P(url, { overwrite: false }), input: [input] });
    assert.deepEqual(kept.output._default, [{ ...input, "extra.notify": false }]);
  });
});

test("tuency: no answer (no interval, empty object) and events without the needed fields pass unchanged", async () => {
  await withApi(tuency, async (url, seen) => {
    const noResult = { ...BASE, "source.ip": "10.0.0.1", "source.abuse_contact": "abuse@example.com" };
    const empty = { ...BASE, "source.ip": "192.0.2.1" };
    const out = await runBot(bot, { params: P(url), input: [noResult, empty, { __type: "Event", comment: "foobar" }, { __type: "Event", "source.ip": "192.0.2.1" }] });
    assert.deepEqual(out.output._default, [noResult, empty, { __type: "Event", comment: "foobar" }, { __type: "Event", "source.ip": "192.0.2.1" }]);
    assert.equal(seen.length, 2);
  });
});

test("tuency: an error status, a malformed answer and a timeout fail the message (dumped, not forwarded)", async () => {
  const input = { ...BASE, "source.ip": "192.0.2.1" };
  await withApi(tuency, async (url) => {
    const out = await runBot(bot, { params: P(url, { authentication_token: "wrong", error_max_retries: 0 }), input: [input] });
    assert.equal(out.dumped, 1);
    assert.match(String(out.dumps[0]!.traceback), /HTTP status code was 401/);
  });
  await withApi(() => ({ body: "<html>" }), async (url) => {
    const out = await runBot(bot, { params: P(url, { error_max_retries: 0 }), input: [input] });
    assert.equal(out.dumped, 1);
    assert.match(String(out.dumps[0]!.traceback), /Malformed response/);
  });
  await withApi(() => "hang", async (url) => {
    const out = await runBot(bot, { params: P(url, { error_max_retries: 0, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }), input: [input] });
    assert.equal(out.dumped, 1);
    assert.deepEqual(out.output._default, []);
  });
});

test("tuency: the same question twice is asked once (cache)", async () => {
  await withApi(tuency, async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P(url) });
    try {
      const input = { ...BASE, "source.ip": "123.123.123.23", "source.fqdn": "www.example.at" };
      const out = await b.process([input, input]);
      assert.equal(out.output._default!.length, 2);
      assert.deepEqual(out.output._default![1], out.output._default![0]);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
