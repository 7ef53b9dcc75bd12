// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { urlHostname } from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

test("urlHostname: like Python's urlparse().hostname", () => {
  assert.equal(urlHostname("http://example.com/something/index.php"), "example.com");
  assert.equal(urlHostname("https://user:pw@Example.ORG:8443/x?y#z"), "example.org");
  assert.equal(urlHostname("http://[2001:db8::123]:80/download"), "2001:db8::123");
  assert.equal(urlHostname("//example.net/path"), "example.net");
  assert.equal(urlHostname("example.com/no-scheme"), null);
  assert.equal(urlHostname("http:///path"), null);
});

test("url2fqdn: fqdn from both urls", async () => {
  const out = await runBot(bot, {
    params: {},
    input: [ev({ "source.url": "http://example.com/something/index.php", "destination.url": "http://example.org/download?file.exe" })],
  });
  const got = out.output._default![0]!;
  assert.equal(got["source.fqdn"], "example.com");
  assert.equal(got["destination.fqdn"], "example.org");
});

test("url2fqdn: IP hosts go to .ip", async () => {
  const out = await runBot(bot, {
    params: {},
    input: [ev({ "source.url": "http://127.0.0.1/something/index.php", "destination.url": "http://[2001:db8::123]/download?file.exe" })],
  });
  const got = out.output._default![0]!;
  assert.equal(got["source.ip"], "127.0.0.1");
  assert.equal(got["destination.ip"], "2001:db8::123");
  assert.equal(got["source.fqdn"], undefined);
  assert.equal(got["destination.fqdn"], undefined);
});

test("url2fqdn: an existing fqdn is kept unless overwrite", async () => {
  const input = [ev({ "source.url": "http://example.com/", "source.fqdn": "example.net" })];
  const kept = await runBot(bot, { params: {}, input });
  assert.equal(kept.output._default![0]!["source.fqdn"], "example.net");
  const replaced = await runBot(bot, { params: { overwrite: "true" }, input });
  assert.equal(replaced.output._default![0]!["source.fqdn"], "example.com");
});

test("url2fqdn: events without urls pass unchanged", async () => {
  const input = [ev({ "source.ip": "192.0.2.1" })];
  const out = await runBot(bot, { params: {}, input });
  assert.deepEqual(out.output._default![0], input[0]);
});
