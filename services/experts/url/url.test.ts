// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { parseUrl } from "./index.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("parseUrl: what Python's urlparse() gives", () => {
  assert.deepEqual(parseUrl("https://admin:pw@WWW.Example.com:8443/index.html?q=1#f"),
    { scheme: "https", path: "/index.html", hostname: "www.example.com", port: 8443, username: "admin" });
  assert.deepEqual(parseUrl("http://[2001:db8::1]:8080/x;type=a"), { scheme: "http", path: "/x", hostname: "2001:db8::1", port: 8080, username: null });
  assert.deepEqual(parseUrl("ftp://files.example.org"), { scheme: "ftp", path: "", hostname: "files.example.org", port: null, username: null });
  assert.throws(() => parseUrl("http://example.com:99999/"), /out of range/);
  assert.throws(() => parseUrl("http://example.com:http/"), /not a number/);
});

test("url: fqdn, port, path, account and application protocol from source.url", async () => {
  const out = await runBot(bot, { params: {}, input: [ev({ "source.url": "https://admin@www.example.com:8443/index.html" })] });
  assert.deepEqual(out.output._default![0], ev({
    "source.url": "https://admin@www.example.com:8443/index.html", "source.fqdn": "www.example.com", "source.port": 8443,
    "source.urlpath": "/index.html", "source.account": "admin", "protocol.application": "http",
  }));
});

test("url: an IP host, the scheme's default port and transport; source.url wins the protocols", async () => {
  const out = await runBot(bot, {
    params: {},
    input: [ev({ "source.url": "http://192.0.2.5/index.html", "destination.url": "ftp://files.example.org/pub/" })],
  });
  const got = out.output._default![0]!;
  assert.equal(got["source.ip"], "192.0.2.5");
  assert.equal(got["source.port"], 80);
  assert.equal(got["destination.fqdn"], "files.example.org");
  assert.equal(got["destination.port"], 21);
  assert.equal(got["destination.urlpath"], "/pub/");
  assert.equal(got["protocol.application"], "http");
  assert.equal(got["protocol.transport"], "tcp");
});

test("url: existing fields are kept unless overwrite; skip_fields are left alone", async () => {
  const input = [ev({ "source.url": "http://www.example.com:8000/a", "source.fqdn": "other.example.net" })];
  const kept = (await runBot(bot, { params: {}, input })).output._default![0]!;
  assert.equal(kept["source.fqdn"], "other.example.net");
  assert.equal(kept["source.port"], 8000);
  const replaced = (await runBot(bot, { params: { overwrite: true }, input })).output._default![0]!;
  assert.equal(replaced["source.fqdn"], "www.example.com");
  const skipped = (await runBot(bot, { params: { skip_fields: "source.port,protocol.application" }, input })).output._default![0]!;
  assert.equal(skipped["source.port"], undefined);
  assert.equal(skipped["protocol.application"], undefined);
  assert.equal(skipped["protocol.transport"], "tcp");
});

test("url: a URL Python cannot parse is dumped, the other events go on", async () => {
  const out = await runBot(bot, { params: {}, input: [ev({ "source.url": "http://example.com:99999/" }), ev({ "source.url": "http://example.com/" })] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /out of range/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), ev({ "source.url": "http://example.com:99999/" }));
  assert.equal(out.output._default!.length, 1);
});
