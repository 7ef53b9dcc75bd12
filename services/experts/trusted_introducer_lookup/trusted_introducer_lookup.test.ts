// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

const TEAMS = readFileSync(fileURLToPath(new URL("../../../../services/experts/trusted_introducer_lookup/fixtures/teams.json", import.meta.url)), "utf8");
const T0 = "2015-01-01T00:00:00+00:00";

async function withApi(handler: (r: SeenRequest) => Answer, fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(handler);
  try { await fn(`${api.url}/directory/teams.json`, api.requests); } finally { await api.close(); }
}
const directory = (req: SeenRequest): Answer => (req.path === "/directory/teams.json" ? { body: JSON.parse(TEAMS) as unknown } : { status: 404, body: "" });

test("trusted_introducer_lookup: domain (longest match first), subdomains and ASN (normal answer)", async () => {
  await withApi(directory, async (url, seen) => {
    const inputs = [
      { __type: "Event", "source.fqdn": "nic.versicherung", "time.observation": T0 },
      { __type: "Event", "source.fqdn": "www.tuwien.ac.at", "time.observation": T0 },
      { __type: "Event", "source.asn": 679, "time.observation": T0 },
    ];
    const out = await runBot(bot, { params: { url }, input: inputs });
    assert.deepEqual(out.output._default!.map((e) => e["source.abuse_contact"]), ["team@cert.example", "cert@aco.example", "cert@aco.example"]);
    assert.equal(seen.length, 1, "the directory is downloaded once");
  });
});

test("trusted_introducer_lookup: nothing found removes the contact with overwrite (as IntelMQ), keeps it without", async () => {
  await withApi(directory, async (url) => {
    const input = { __type: "Event", "source.fqdn": "example.com", "source.asn": 64500, "source.abuse_contact": "old@example.com" };
    assert.deepEqual((await runBot(bot, { params: { url }, input: [input] })).output._default, [{ __type: "Event", "source.fqdn": "example.com", "source.asn": 64500 }]);
    assert.deepEqual((await runBot(bot, { params: { url, overwrite: false }, input: [input] })).output._default, [input]);
    // order: asn first
    const both = { __type: "Event", "source.fqdn": "x.at", "source.asn": 760 };
    assert.equal((await runBot(bot, { params: { url, order: "asn, domain" }, input: [both] })).output._default![0]!["source.abuse_contact"], "cert@aco.example");
  });
});

test("trusted_introducer_lookup: no directory (404), a malformed one and a timeout fail the message (dumped)", async () => {
  const input = { __type: "Event", "source.fqdn": "nic.at" };
  await withApi(() => ({ status: 404, body: "" }), async (url) => {
    const out = await runBot(bot, { params: { url, error_max_retries: 0 }, input: [input] });
    assert.equal(out.dumped, 1);
    assert.match(String(out.dumps[0]!.traceback), /HTTP status code was 404/);
  });
  await withApi(() => ({ body: { teams: "?" } }), async (url) => {
    const out = await runBot(bot, { params: { url, error_max_retries: 0 }, input: [input] });
    assert.match(String(out.dumps[0]!.traceback), /Malformed response/);
  });
  await withApi(() => "hang", async (url) => {
    const out = await runBot(bot, { params: { url, error_max_retries: 0, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }, input: [input] });
    assert.equal(out.dumped, 1);
  });
});

test("trusted_introducer_lookup: the directory is downloaded once, later lookups use the kept copy", async () => {
  await withApi(directory, async (url, seen) => {
    const b = await createLibraryBot(bot, { params: { url } });
    try {
      await b.process([{ __type: "Event", "source.fqdn": "nic.at" }]);
      await b.process([{ __type: "Event", "source.fqdn": "nic.wien" }]);
      assert.equal(seen.length, 1);
    } finally { await b.shutdown(); }
  });
});
