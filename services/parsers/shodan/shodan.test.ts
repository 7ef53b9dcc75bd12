// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { assertSample } from "../../../test/helpers/parser-samples.js";
import { dumpedRaw } from "../../../test/helpers/dumps.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const report = (banner: unknown) => ({ __type: "Report", "feed.name": "Shodan", raw: b64(typeof banner === "string" ? banner : JSON.stringify(banner)) });

const SSH = {
  ip_str: "192.0.2.7", port: 22, transport: "tcp", asn: "AS64496", org: "Example Org", isp: "Example ISP",
  timestamp: "2021-10-01T09:15:50.511189", hash: 29865539, data: "SSH-2.0-OpenSSH_7.4",
  hostnames: ["192.0.2.8", "host.example.com:8080", "host.example.com"], domains: [], product: "OpenSSH", version: "7.4",
  location: { country_code: "AT", city: "Vienna", latitude: 48.2, longitude: 16.4, country_name: "Austria" },
  ssh: { cipher: "aes128-ctr", mac: "hmac-sha2-256", type: "ssh-rsa", hassh: "dropped" },
  vulns: { "CVE-2017-15906": { verified: false, cvss: "5.0" }, "CVE-2018-15919": { verified: true, cvss: "5.0" } },
  ssl: { cert: { serial: 12345678901234, issuer: { C: "AT", CN: "Example CA" } } },
  http: { components: { nginx: { categories: ["Web servers"] } } },
  tags: ["cloud"], _shodan: { module: "ssh" },
};

test("shodan: a banner's known keys become event and extra fields", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report(SSH)] });
  assert.equal(out.dumped, 0);
  const e = out.output._default![0]!;
  assert.equal(e["source.ip"], "192.0.2.7");
  assert.equal(e["source.port"], 22);
  assert.equal(e["source.asn"], 64496);
  assert.equal(e["protocol.transport"], "tcp");
  assert.equal(e["event_description.target"], "Example Org");
  assert.equal(e["time.source"], "2021-10-01T09:15:50.511189+00:00", "Shodan's time is UTC");
  assert.equal(e["source.reverse_dns"], "host.example.com", "the first valid name (no IP, no port)");
  assert.equal(e["source.fqdn"], undefined, "no valid domain: left out");
  assert.equal(e["source.geolocation.cc"], "AT");
  assert.equal(e["source.geolocation.city"], "Vienna");
  assert.equal(e["extra.shodan.event_hash"], 29865539);
  assert.equal(e["extra.ssh.cipher"], "aes128-ctr");
  assert.equal(e["extra.ssh.hassh"], undefined, "keys without a mapping are dropped");
  assert.equal(e["extra.ssl.cert.serial"], "12345678901234");
  assert.equal(e["extra.ssl.cert.issuer.c"], "AT");
  assert.deepEqual(e["extra.http.components"], ["nginx"]);
  assert.deepEqual(e["extra.vulns"], [
    { verified: false, cvss: "5.0", identifier: "CVE-2017-15906" },
    { verified: true, cvss: "5.0", identifier: "CVE-2018-15919" },
  ]);
  assert.deepEqual(e["extra.verified_vulns"], ["CVE-2018-15919"]);
  assert.deepEqual(e["extra.shodan.unique_keys"], ["http", "product", "ssh", "ssl", "version", "vulns"]);
  assert.equal(e["protocol.application"], "http", "the first module key that is a protocol");
  assert.equal(e["classification.type"], "other");
  assert.equal(e["classification.identifier"], "shodan-scan");
  assert.equal(Buffer.from(String(e.raw), "base64").toString("utf8"), JSON.stringify(SSH));
  assert.equal(e["feed.name"], "Shodan");
});

test("shodan: minimal_mode keeps core fields and the whole banner in extra.shodan", async () => {
  const out = await runBot(bot, { params: { ...HARNESS, minimal_mode: true }, input: [report({ ...SSH, data: "" })] });
  const e = out.output._default![0]!;
  assert.equal(e["source.ip"], "192.0.2.7");
  assert.equal(e["source.port"], 22);
  assert.equal(e["source.geolocation.cc"], "AT");
  assert.equal(e["time.source"], "2021-10-01T09:15:50.511189+00:00");
  assert.deepEqual(e["extra.tags"], ["cloud"]);
  assert.equal(e["extra.data"], undefined, "empty values are not copied");
  assert.equal(e["source.reverse_dns"], undefined);
  assert.deepEqual((e["extra.shodan"] as Record<string, unknown>)["ssh"], SSH.ssh);
  assert.equal(e["classification.identifier"], "network-scan");
});

test("shodan: a report that is not JSON is dumped with the reason, the next one is parsed", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [report("{not json"), report(SSH)] });
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /not JSON/);
  assert.equal(dumpedRaw(out.dumps[0]!), "{not json");
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.output._default![0]!["source.ip"], "192.0.2.7");
});

test("shodan: a banner with unusable values is dumped with the reason, the others go on", async () => {
  const out = await runBot(bot, { params: HARNESS, input: [
    report({ ...SSH, timestamp: 1633079750 }),
    report({ ...SSH, port: "not a port" }),
    report([SSH]),
    report(SSH),
  ] });
  assert.equal(out.dumped, 3);
  const reasons = out.dumps.map((d) => String(d.traceback));
  assert.match(reasons[0]!, /timestamp is not a string/);
  assert.match(reasons[1]!, /source\.port/);
  assert.match(reasons[2]!, /not a JSON object/);
  assert.deepEqual(out.dumps.map((d) => JSON.parse(dumpedRaw(d))), [{ ...SSH, timestamp: 1633079750 }, { ...SSH, port: "not a port" }, [SSH]]);
  assert.equal(out.output._default!.length, 1);
});

test("shodan: minimal_mode needs a timestamp", async () => {
  const { timestamp: _t, ...rest } = SSH;
  const out = await runBot(bot, { params: { ...HARNESS, minimal_mode: true }, input: [report(rest)] });
  assert.equal(out.dumped, 1);
  assert.match(String(out.dumps[0]!.traceback), /no timestamp/);
  assert.deepEqual(JSON.parse(dumpedRaw(out.dumps[0]!)), rest);
  assert.equal(out.output._default!.length, 0);
});

test("shodan: the sample report (fixtures/sample.json) gives an event per record and dumps nothing", async () => {
  await assertSample(bot, "shodan");
});
