// SPDX-License-Identifier: AGPL-3.0-only
// Against a real DNS server: dnsmasq on 127.0.0.1 serving A/AAAA records.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { haveDnsmasq, startDnsmasq, startSilentDns, type Dnsmasq } from "../../../test/helpers/dnsmasq.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });

let dns: Dnsmasq;
before(async () => {
  if (!haveDnsmasq()) throw new Error("dnsmasq is not installed (apt-get install dnsmasq; .ci/run installs it)");
  dns = await startDnsmasq({
    zones: ["example.test"],
    records: [
      "--host-record=www.example.test,192.0.2.7",
      "--host-record=v6only.example.test,2001:db8::7",
      "--host-record=cached.example.test,192.0.2.8",
      // a CNAME to nowhere: an answer without an address
      "--cname=dangling.example.test,nowhere.example.test",
    ],
  });
});
after(async () => { await dns?.stop(); });

test("gethostbyname: the address of the fqdn, else of the url's host; IPv6 when there is no IPv4 address", async () => {
  const input = [
    ev({ "source.fqdn": "www.example.test", "destination.url": "http://user@v6only.example.test:8080/x" }),
    ev({ "source.url": "http://192.0.2.1/x" }),
  ];
  const out = await runBot(bot, { params: { dns_server: dns.server }, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [
    ev({ "source.fqdn": "www.example.test", "source.ip": "192.0.2.7", "destination.url": "http://user@v6only.example.test:8080/x", "destination.ip": "2001:db8::7" }),
    input[1],
  ]);
  const noUrl = await runBot(bot, { params: { dns_server: dns.server, fallback_to_url: false }, input: [input[0]] });
  assert.equal(noUrl.output._default![0]!["destination.ip"], undefined);
});

test("gethostbyname: NXDOMAIN and a name without address leave the event unchanged; an ip is kept unless overwrite", async () => {
  const input = [ev({ "source.fqdn": "missing.example.test" }), ev({ "source.fqdn": "dangling.example.test" }), ev({ "source.fqdn": "www.example.test", "source.ip": "192.0.2.99" })];
  const out = await runBot(bot, { params: { dns_server: dns.server }, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, input);
  const over = await runBot(bot, { params: { dns_server: dns.server, overwrite: true }, input: [input[2]] });
  assert.equal(over.output._default![0]!["source.ip"], "192.0.2.7");
});

test("gethostbyname: a server that never answers fails the message unless -3 (EAI_AGAIN) is in gaierrors_to_ignore", async () => {
  const silent = await startSilentDns();
  try {
    const params = { dns_server: silent.server, dns_timeout: 0.2, dns_tries: 1, error_max_retries: 1, error_retry_delay: 0 };
    const input = [ev({ "source.fqdn": "www.example.test" })];
    const out = await runBot(bot, { params, input });
    assert.equal(out.dumped, 1);
    assert.deepEqual(out.output._default, []);
    assert.match(out.dumps[0]!.traceback.toString(), /ETIMEOUT/);
    const ignored = await runBot(bot, { params: { ...params, gaierrors_to_ignore: "-3" }, input });
    assert.deepEqual(ignored.output._default, input);
  } finally {
    await silent.stop();
  }
});

test("gethostbyname: with cache_ttl the second lookup of a name comes from the cache (no DNS query)", async () => {
  const b = await createLibraryBot(bot, { params: { dns_server: dns.server, cache_ttl: 3600 } });
  try {
    await dns.sync();
    const a = await b.process([ev({ "source.fqdn": "cached.example.test" })]);
    const c = await b.process([ev({ "destination.fqdn": "cached.example.test" }), ev({ "source.fqdn": "gone.example.test" }), ev({ "source.fqdn": "gone.example.test" })]);
    await dns.sync();
    assert.equal(dns.count("cached.example.test"), 1);
    // A, then AAAA, once: "no address" is remembered
    assert.deepEqual(dns.queries.filter((q) => q.endsWith(" gone.example.test")), ["A gone.example.test", "AAAA gone.example.test"]);
    assert.equal(a.output._default![0]!["source.ip"], "192.0.2.8");
    assert.equal(c.output._default![0]!["destination.ip"], "192.0.2.8");
  } finally {
    await b.shutdown();
  }
});

test("gethostbyname: gaierrors_to_ignore must be integers", async () => {
  await assert.rejects(runBot(bot, { params: { gaierrors_to_ignore: "x" }, input: [] }), /gaierrors_to_ignore/);
});
