// SPDX-License-Identifier: AGPL-3.0-only
// Against a real DNS server: dnsmasq on 127.0.0.1 serving Abusix-style TXT records.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import { haveDnsmasq, startDnsmasq, startSilentDns, type Dnsmasq } from "../../../test/helpers/dnsmasq.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const ZONE = "abuse-contacts.abusix.zone";
const V6 = [..."20010db8000000000000000000000001"].reverse().join(".");

let dns: Dnsmasq;
before(async () => {
  if (!haveDnsmasq()) throw new Error("dnsmasq is not installed (apt-get install dnsmasq; .ci/run installs it)");
  dns = await startDnsmasq({
    zones: ["abusix.zone"],
    records: [
      `--txt-record=7.2.0.192.${ZONE},abuse@example.net`,
      `--txt-record=${V6}.${ZONE},abuse@example.org`,
      `--txt-record=9.2.0.192.${ZONE},no contact here`,
      `--txt-record=8.2.0.192.${ZONE},cert@example.com`,
    ],
  });
});
after(async () => { await dns?.stop(); });

test("abusix: the abuse contact of source and destination (IPv4 and IPv6)", async () => {
  const out = await runBot(bot, { params: { dns_server: dns.server }, input: [ev({ "source.ip": "192.0.2.7", "destination.ip": "2001:db8::1" })] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [ev({
    "source.ip": "192.0.2.7", "source.abuse_contact": "abuse@example.net", "destination.ip": "2001:db8::1", "destination.abuse_contact": "abuse@example.org",
  })]);
});

test("abusix: NXDOMAIN and an answer that is no e-mail address leave the event unchanged; an existing contact is kept unless overwrite", async () => {
  const input = [ev({ "source.ip": "198.51.100.1" }), ev({ "source.ip": "192.0.2.9" }), ev({ "source.ip": "192.0.2.7", "source.abuse_contact": "me@example.com" })];
  const out = await runBot(bot, { params: { dns_server: dns.server }, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, input);
  const over = await runBot(bot, { params: { dns_server: dns.server, overwrite: true }, input: [input[2]] });
  assert.equal(over.output._default![0]!["source.abuse_contact"], "abuse@example.net");
});

test("abusix: a server that never answers fails the message (retried, then dumped)", async () => {
  const silent = await startSilentDns();
  try {
    const out = await runBot(bot, {
      params: { dns_server: silent.server, dns_timeout: 0.2, dns_tries: 1, error_max_retries: 1, error_retry_delay: 0 },
      input: [ev({ "source.ip": "192.0.2.7" })],
    });
    assert.equal(out.dumped, 1);
    assert.deepEqual(out.output._default, []);
    assert.match(out.dumps[0]!.traceback.toString(), /ETIMEOUT/);
  } finally {
    await silent.stop();
  }
});

test("abusix: the second lookup of an address comes from the cache (no DNS query)", async () => {
  const b = await createLibraryBot(bot, { params: { dns_server: dns.server } });
  try {
    await dns.sync();
    const a = await b.process([ev({ "source.ip": "192.0.2.8" })]);
    const c = await b.process([ev({ "destination.ip": "192.0.2.8" }), ev({ "source.ip": "198.51.100.3" }), ev({ "source.ip": "198.51.100.3" })]);
    await dns.sync();
    assert.equal(dns.count(`8.2.0.192.${ZONE}`), 1);
    assert.equal(dns.count(`3.100.51.198.${ZONE}`), 1);
    assert.equal(a.output._default![0]!["source.abuse_contact"], "cert@example.com");
    assert.equal(c.output._default![0]!["destination.abuse_contact"], "cert@example.com");
  } finally {
    await b.shutdown();
  }
});
