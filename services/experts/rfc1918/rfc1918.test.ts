// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const ALL = { fields: "destination.ip,source.ip,source.fqdn,destination.fqdn,source.url,source.asn", policy: "del,drop,drop,del,drop,drop" };

async function one(params: Record<string, unknown>, fields: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  const out = await runBot(bot, { params, input: [ev(fields)] });
  return out.output._default![0] ?? null;
}

test("rfc1918: private and documentation addresses, by policy", async () => {
  assert.deepEqual(await one(ALL, { "destination.ip": "10.1.2.3", "source.ip": "8.8.8.8" }), ev({ "source.ip": "8.8.8.8" }), "del removes the field");
  assert.deepEqual(await one(ALL, { "destination.ip": "10.1.2.3", "source.ip": "192.168.1.1" }), ev({ "source.ip": "192.168.1.1" }),
    "the first match decides: after a del the other fields are not checked");
  assert.equal(await one(ALL, { "source.ip": "192.168.7.1" }), null, "drop discards the event");
  assert.equal(await one(ALL, { "source.ip": "2001:db8::1" }), null, "IPv6 documentation prefix");
  assert.equal(await one(ALL, { "source.ip": "fe80::1" }), null, "IPv6 link local");
  const pub = ev({ "source.ip": "8.8.8.8", "destination.ip": "2a00:1450::1" });
  assert.deepEqual(await one(ALL, pub), pub, "public addresses pass");
  assert.deepEqual(await one(ALL, { "source.ip": "172.32.0.1" }), ev({ "source.ip": "172.32.0.1" }), "just outside 172.16.0.0/12");
});

test("rfc1918: domains, URLs and ASNs", async () => {
  assert.equal(await one(ALL, { "source.fqdn": "www.example.org" }), null);
  assert.equal(await one(ALL, { "source.fqdn": "host.localhost" }), null);
  assert.deepEqual(await one(ALL, { "destination.fqdn": "sub.example.invalid" }), ev({}));
  assert.deepEqual(await one(ALL, { "source.fqdn": "example.community" }), ev({ "source.fqdn": "example.community" }), "not a suffix match");
  assert.equal(await one(ALL, { "source.url": "http://sub.example.com/foo" }), null);
  assert.equal(await one(ALL, { "source.url": "http://192.168.0.1/foo" }), null);
  // IntelMQ compares the whole netloc: with a port it is neither an address nor a listed domain.
  assert.notEqual(await one(ALL, { "source.url": "http://192.168.0.1:8080/foo" }), null);
  assert.equal(await one(ALL, { "source.asn": 64496 }), null);
  assert.equal(await one(ALL, { "source.asn": 65551 }), null);
  assert.deepEqual(await one(ALL, { "source.asn": 3320 }), ev({ "source.asn": 3320 }));
});

test("rfc1918: defaults check destination.ip, source.ip and source.url", async () => {
  assert.deepEqual(await one({}, { "destination.ip": "127.0.0.1", "source.ip": "8.8.8.8" }), ev({ "source.ip": "8.8.8.8" }));
  assert.deepEqual(await one({}, { "source.fqdn": "example.com" }), ev({ "source.fqdn": "example.com" }), "fqdn is not checked by default");
});

test("rfc1918: fields and policy of different lengths stop the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { fields: "source.ip,destination.ip", policy: "drop" }, input: [ev({})] }),
    (err: Error) => /policy/.test(err.message) && /unequal/.test(err.message));
});
