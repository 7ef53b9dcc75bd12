// SPDX-License-Identifier: AGPL-3.0-only
// Against a real DNS server: dnsmasq on 127.0.0.1 serving Cymru-style TXT records.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { haveDnsmasq, startDnsmasq, startSilentDns, type Dnsmasq } from "../../../test/helpers/dnsmasq.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const V6_NAME = [..."20010db8000000000000000000000001"].reverse().join(".") + ".origin6.asn.cymru.com";

let dns: Dnsmasq;
before(async () => {
  if (!haveDnsmasq()) throw new Error("dnsmasq is not installed (apt-get install dnsmasq; .ci/run installs it)");
  dns = await startDnsmasq({
    zones: ["cymru.com"],
    records: [
      // two announcements: the more specific network wins
      "--txt-record=7.2.0.192.origin.asn.cymru.com,64496 | 192.0.2.0/24 | AT | ripencc | 2001-02-03",
      "--txt-record=7.2.0.192.origin.asn.cymru.com,64497 | 192.0.0.0/16 | DE | ripencc | 1999-01-01",
      "--txt-record=AS64496.asn.cymru.com,64496 | AT | ripencc | 2001-02-03 | EXAMPLE-NET Example Networks Äg - AT",
      `--txt-record=${V6_NAME},64511 | 2001:db8::/32 | NA | other |`,
      "--txt-record=AS64511.asn.cymru.com,64511 | ZZ | other |  | ",
      "--txt-record=9.2.0.192.origin.asn.cymru.com,not the format of Cymru",
      "--txt-record=8.2.0.192.origin.asn.cymru.com,64496 | 192.0.2.0/24 | AT | ripencc | 2001-02-03",
    ],
  });
});
after(async () => { await dns?.stop(); });

test("cymru_whois: ASN, network, country, registry, allocation and AS name; the most specific network", async () => {
  const out = await runBot(bot, { params: { dns_server: dns.server }, input: [ev({ "source.ip": "192.0.2.7" })] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [ev({
    "source.ip": "192.0.2.7", "source.asn": 64496, "source.network": "192.0.2.0/24", "source.geolocation.cc": "AT",
    "source.registry": "RIPE", "source.allocated": "2001-02-03T00:00:00+00:00", "source.as_name": "EXAMPLE-NET Example Networks Äg - AT",
  })]);
});

test("cymru_whois: IPv6 under origin6; registry 'other' and NA are left out", async () => {
  const out = await runBot(bot, { params: { dns_server: dns.server }, input: [ev({ "destination.ip": "2001:db8::1" })] });
  assert.deepEqual(out.output._default, [ev({ "destination.ip": "2001:db8::1", "destination.asn": 64511, "destination.network": "2001:db8::/32" })]);
});

test("cymru_whois: no answer (NXDOMAIN) passes the event unchanged; existing fields are kept unless overwrite", async () => {
  const input = [ev({ "source.ip": "198.51.100.1" }), ev({ "source.ip": "192.0.2.8", "source.asn": 1 })];
  const out = await runBot(bot, { params: { dns_server: dns.server }, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default![0], input[0]);
  assert.equal(out.output._default![1]!["source.asn"], 1);
  const over = await runBot(bot, { params: { dns_server: dns.server, overwrite: true }, input: [input[1]] });
  assert.equal(over.output._default![0]!["source.asn"], 64496);
});

test("cymru_whois: an answer not in Cymru's format is an error of the message (dumped)", async () => {
  const out = await runBot(bot, { params: { dns_server: dns.server, error_max_retries: 0 }, input: [ev({ "source.ip": "192.0.2.9" })] });
  assert.equal(out.dumped, 1);
  assert.deepEqual(out.output._default, []);
  assert.match(out.dumps[0]!.traceback.toString(), /Cymru's format/);
});

test("cymru_whois: a server that never answers fails the message: retried, then dumped, never forwarded without data", async () => {
  const silent = await startSilentDns();
  try {
    const out = await runBot(bot, {
      params: { dns_server: silent.server, dns_timeout: 0.2, dns_tries: 1, error_max_retries: 1, error_retry_delay: 0 },
      input: [ev({ "source.ip": "192.0.2.7" })],
    });
    assert.equal(out.dumped, 1);
    assert.deepEqual(out.output._default, []);
    assert.match(out.dumps[0]!.traceback.toString(), /ETIMEOUT/);
    assert.ok(silent.received() >= 2, "asked again on the retry");
  } finally {
    await silent.stop();
  }
});

test("cymru_whois: the second lookup of an address comes from the cache (no DNS query)", async () => {
  const b = await createLibraryBot(bot, { params: { dns_server: dns.server } });
  try {
    await dns.sync();
    const before = dns.count("8.2.0.192.origin.asn.cymru.com");
    const first = await b.process([ev({ "source.ip": "192.0.2.8" }), ev({ "destination.ip": "192.0.2.8" })]);
    const second = await b.process([ev({ "source.ip": "192.0.2.8" })]);
    await dns.sync();
    assert.equal(dns.count("8.2.0.192.origin.asn.cymru.com") - before, 1);
    assert.equal(first.output._default![1]!["destination.asn"], 64496);
    assert.equal(second.output._default![0]!["source.asn"], 64496);
    // "no data" is remembered too
    await b.process([ev({ "source.ip": "198.51.100.2" }), ev({ "source.ip": "198.51.100.2" })]);
    await dns.sync();
    assert.equal(dns.count("2.100.51.198.origin.asn.cymru.com"), 1);
  } finally {
    await b.shutdown();
  }
});
