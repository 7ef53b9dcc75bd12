// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { startApiServer, type Answer, type SeenRequest } from "../../../test/helpers/api-server.js";
import bot from "./index.js";

/** CERT.at's abuse-nationalcert.pl: one line "ip;cc;national CERT;contact" with sep=semicolon, nothing when unknown. */
function certat(req: SeenRequest): Answer {
  if (req.path !== "/cgi-bin/abuse-nationalcert.pl" || req.query.get("sep") !== "semicolon" || req.query.get("bShowNationalCERT") !== "on") return { status: 400, body: "bad request" };
  const ip = req.query.get("ip");
  if (ip === "93.184.216.34" || ip === "2001:500:88:200::7") return { body: `${ip};US;US-CERT;soc@us-cert.gov\n` };
  if (ip === "83.136.38.146") return { body: `${ip};AT;CERT.at;reports@cert.at\n` };
  if (ip === "192.0.2.66") return { body: "garbage\n" };
  if (ip === "192.0.2.99") return "hang";
  return { body: "" };
}

async function withApi(fn: (url: string, seen: SeenRequest[]) => Promise<void>): Promise<void> {
  const api = await startApiServer(certat);
  try { await fn(`${api.url}/cgi-bin/abuse-nationalcert.pl`, api.requests); } finally { await api.close(); }
}

test("national_cert_contact_certat: country and contact of source and destination (normal answer)", async () => {
  await withApi(async (url, seen) => {
    const input = { __type: "Event", "source.ip": "93.184.216.34", "destination.ip": "83.136.38.146", "time.observation": "2015-01-01T00:00:00+00:00" };
    const out = await runBot(bot, { params: { url }, input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.geolocation.cc": "US", "source.abuse_contact": "soc@us-cert.gov", "destination.geolocation.cc": "AT", "destination.abuse_contact": "reports@cert.at" }]);
    assert.equal(seen[0]!.query.get("bFilter"), "off");
  });
});

test("national_cert_contact_certat: an existing contact is extended, an existing cc kept unless overwrite_cc", async () => {
  await withApi(async (url) => {
    const input = { __type: "Event", "source.ip": "2001:500:88:200::7", "source.abuse_contact": "existing@example.com", "source.geolocation.cc": "DE" };
    const out = await runBot(bot, { params: { url }, input: [input] });
    assert.deepEqual(out.output._default, [{ ...input, "source.abuse_contact": "existing@example.com,soc@us-cert.gov" }]);
    const over = await runBot(bot, { params: { url, overwrite_cc: true, filter: true }, input: [input] });
    assert.equal(over.output._default![0]!["source.geolocation.cc"], "US");
  });
});

test("national_cert_contact_certat: no answer (empty) leaves the event; malformed and timeout are dumped", async () => {
  await withApi(async (url) => {
    const missing = { __type: "Event", "source.ip": "10.0.0.1" };
    assert.deepEqual((await runBot(bot, { params: { url }, input: [missing] })).output._default, [missing]);
    const bad = await runBot(bot, { params: { url, error_max_retries: 0 }, input: [{ __type: "Event", "source.ip": "192.0.2.66" }] });
    assert.equal(bad.dumped, 1);
    assert.match(String(bad.dumps[0]!.traceback), /Malformed response/);
    const slow = await runBot(bot, { params: { url, error_max_retries: 0, http_timeout_sec: 0.2, http_timeout_max_tries: 1 }, input: [{ __type: "Event", "source.ip": "192.0.2.99" }] });
    assert.equal(slow.dumped, 1);
    const status = await runBot(bot, { params: { url: `${url}x`, error_max_retries: 0 }, input: [missing] });
    assert.match(String(status.dumps[0]!.traceback), /HTTP status code was 400/);
  });
});

test("national_cert_contact_certat: a second lookup of the same address is answered by the cache", async () => {
  await withApi(async (url, seen) => {
    const b = await createLibraryBot(bot, { params: { url } });
    try {
      const out = await b.process([{ __type: "Event", "source.ip": "93.184.216.34" }, { __type: "Event", "destination.ip": "93.184.216.34" }, { __type: "Event", "source.ip": "10.0.0.1" }, { __type: "Event", "source.ip": "10.0.0.1" }]);
      assert.equal(out.output._default![1]!["destination.abuse_contact"], "soc@us-cert.gov");
      assert.equal(seen.length, 2);
    } finally { await b.shutdown(); }
  });
});
