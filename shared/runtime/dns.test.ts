// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker, connectJetStream } from "../broker/index.js";
import { startNatsServer } from "../../test/helpers/nats-server.js";
import { haveDnsmasq, startDnsmasq } from "../../test/helpers/dnsmasq.js";
import { DnsClient, DnsLookupError, LookupCache, reverseLabels, reverseName } from "./dns.js";

test("reverse names of IPv4 and IPv6 addresses", () => {
  assert.equal(reverseName("192.0.2.7"), "7.2.0.192.in-addr.arpa");
  assert.equal(reverseLabels("2001:db8::1"), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
  assert.equal(reverseName("2001:db8::1").endsWith(".ip6.arpa"), true);
});

test("LookupCache: concurrent lookups of a key compute once; values expire by their own TTL; failures are not stored", async () => {
  const broker = new MemoryBroker();
  try {
    const cache = new LookupCache(await broker.kv.open("test-lookups", 3600), 3600);
    let calls = 0;
    const compute = async () => { calls++; await new Promise((r) => setTimeout(r, 10)); return { value: "v" }; };
    assert.deepEqual(await Promise.all([1, 2, 3].map(() => cache.through("2001:db8::1", compute))), ["v", "v", "v"]);
    assert.equal(await cache.through("2001:db8::1", compute), "v");
    assert.equal(calls, 1);
    await cache.set("short", "x", 0.001);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await cache.get("short"), null, "expired by its own TTL");
    await assert.rejects(cache.through("bad", () => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await cache.through("bad", () => Promise.resolve({ value: "ok" })), "ok", "a failure is not remembered");
  } finally {
    await broker.close();
  }
});

test("DnsClient: NXDOMAIN and NODATA are no data, REFUSED is a failed lookup; TXT read as UTF-8", async () => {
  if (!haveDnsmasq()) throw new Error("dnsmasq is not installed (apt-get install dnsmasq; .ci/run installs it)");
  const dns = await startDnsmasq({ zones: ["example.test"], records: ["--txt-record=t.example.test,Grüße", "--host-record=h.example.test,192.0.2.1"] });
  try {
    const c = new DnsClient({ dns_server: [dns.server], dns_timeout: 2, dns_tries: 1 });
    assert.deepEqual(await c.txt("t.example.test"), ["Grüße"]);
    assert.equal(await c.txt("missing.example.test"), null);
    assert.equal(await c.txt("h.example.test"), null);
    assert.deepEqual(await c.a("h.example.test"), ["192.0.2.1"]);
    await assert.rejects(c.txt("outside.invalid"), (e: unknown) => e instanceof DnsLookupError && e.code === "EREFUSED");
  } finally {
    await dns.stop();
  }
});

test("LookupCache on JetStream KV: IPv6 and zone-prefixed keys are stored and found by another connection", async () => {
  const server = await startNatsServer();
  const a = await connectJetStream({ servers: server.url });
  const b = await connectJetStream({ servers: server.url });
  try {
    const one = new LookupCache(await a.kv.open("cymru_whois", 3600), 3600);
    const two = new LookupCache(await b.kv.open("cymru_whois", 3600), 3600);
    for (const key of ["asn.cymru.com|6_2001:db8::1", "4_192.0.2.7", "-x_y"]) {
      assert.equal(await one.through(key, () => Promise.resolve({ value: `v ${key} | ü` })), `v ${key} | ü`);
      assert.equal(await two.get(key), `v ${key} | ü`);
    }
  } finally {
    await a.close();
    await b.close();
    await server.stop();
  }
});
