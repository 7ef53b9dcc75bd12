// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import bot from "./index.js";

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../../../services/experts/rdap/fixtures/${name}`, import.meta.url)), "utf8"));
const T0 = "2015-01-01T00:00:00+00:00";

/** IANA's bootstrap file (RFC 9224) and an RDAP server (RFC 9083) on one loopback server. */
function rdap(req: SeenRequest): Answer {
  if (req.path === "/dns.json") {
    return { body: { version: "1.0", publication: "2024-01-01T00:00:00Z", services: [[["versicherung", "com"], ["http://127.0.0.1:1/never/"]], [["at"], ["http://127.0.0.1:1/at/"]]] } };
  }
  if (req.path === "/rdap/v1/domain/nic.versicherung") return { body: fixture("nic.versicherung.json") };
  if (req.path === "/rdap/v1/domain/example.com") return { body: fixture("example.com.json") };
  if (req.path === "/rdap/v1/domain/secret.com") {
    return req.headers.authorization === "Bearer T0K3N" ? { body: fixture("example.com.json") } : { status: 401, body: { errorCode: 401 } };
  }
  if (req.path === "/rdap/v1/domain/broken.com") return { body: "<html>" };
  if (req.path === "/rdap/v1/domain/slow.com") return "hang";
  if (req.path === "/rdap/v1/domain/failing.com") return { status: 500, body: { errorCode: 500 } };
  return { status: 404, body: "" };
}

async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(rdap);
  try { await fn(api.url, api.requests); } finally { await api.close(); }
}
const P = (url: string, more: Record<string, unknown> = {}) => ({
  rdap_bootstrap_url: `${url}/dns.json`,
  rdap_bootstrapped_servers: { com: `${url}/rdap/v1/`, versicherung: `${url}/rdap/v1/` }, ...more,
});

test("rdap: the abuse contact of a registrar's sub-entity (normal answer, IntelMQ's test)", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.url": "http://nic.versicherung/something/index.php", "source.fqdn": "nic.versicherung", "time.observation": T0 };
    const out = await runBot(bot, { params: P(url), input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.abuse_contact": "service@tld-box.at" }]);
    assert.deepEqual(seen.map((r) => r.path), ["/dns.json", "/rdap/v1/domain/nic.versicherung"]);
  });
});

test("rdap: entities that are no objects are skipped; the registered domain of a host name is asked", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.fqdn": "www.mail.example.com", "time.observation": T0 };
    const out = await runBot(bot, { params: P(url), input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.abuse_contact": "service@example.com" }]);
    assert.equal(seen[1]!.path, "/rdap/v1/domain/example.com");
    // rdap_order decides: "technical" has no e-mail address here, "registrar" has none of its own either
    const none = await runBot(bot, { params: P(url, { rdap_order: ["technical"] }), input: [input] });
    assert.deepEqual(none.output._default, [input]);
  });
});

test("rdap: a jwt token is sent to a server configured with it; a bootstrap file instead of the download", async () => {
  await withApi(async (url, seen) => {
    const dir = tempDir("rdap");
    const file = `${dir}/dns.json`;
    writeFileSync(file, JSON.stringify({ services: [[["com"], [`${url}/rdap/v1/`]]] }));
    const input = { __type: "Event", "source.fqdn": "secret.com", "time.observation": T0 };
    const params = { rdap_bootstrap_file: file, rdap_bootstrapped_servers: { com: { url: `${url}/rdap/v1/`, auth: { type: "jwt", token: "T0K3N" } } } };
    const out = await runBot(bot, { params, input: [input] });
    assert.equal(out.output._default![0]!["source.abuse_contact"], "service@example.com");
    assert.ok(!seen.some((r) => r.path === "/dns.json"));
    await assert.rejects(createLibraryBot(bot, { params: { rdap_bootstrap_url: null, rdap_bootstrapped_servers: { com: { url, auth: { type: "basic" } } } } }), /not implemented/);
  });
});

test("rdap: no answer (404), an unknown suffix and no fqdn leave the event as it is", async () => {
  await withApi(async (url) => {
    const inputs = [
      { __type: "Event", "source.fqdn": "this-record-does-not-exist.versicherung", "time.observation": T0 },
      { __type: "Event", "source.fqdn": "example.invalid", "time.observation": T0 },
      { __type: "Event", "source.ip": "192.0.2.1", "time.observation": T0 },
    ];
    const out = await runBot(bot, { params: P(url), input: inputs });
    assert.deepEqual(out.output._default, inputs);
  });
});

test("rdap: another status, a malformed answer and a timeout fail the message (dumped)", async () => {
  await withApi(async (url) => {
    for (const [fqdn, why] of [["failing.com", /HTTP status code was 500/], ["broken.com", /Malformed response/], ["slow.com", /No answer from/]] as const) {
      const out = await runBot(bot, { params: P(url, { error_max_retries: 0, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }), input: [{ __type: "Event", "source.fqdn": fqdn }] });
      assert.equal(out.dumped, 1, fqdn);
      assert.match(String(out.dumps[0]!.traceback), why);
    }
  });
});

test("rdap: a second lookup of the same fqdn is answered by the cache", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: P(url) });
    try {
      const input = { __type: "Event", "source.fqdn": "nic.versicherung", "time.observation": T0 };
      const out = await b.process([input, input, { __type: "Event", "source.fqdn": "gone.com" }, { __type: "Event", "source.fqdn": "gone.com" }]);
      assert.equal(out.output._default![1]!["source.abuse_contact"], "service@tld-box.at");
      assert.deepEqual(seen.map((r) => r.path), ["/dns.json", "/rdap/v1/domain/nic.versicherung", "/rdap/v1/domain/gone.com"]);
    } finally { await b.shutdown(); }
  });
});
