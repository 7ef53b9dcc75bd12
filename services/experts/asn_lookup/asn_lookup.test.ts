// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLibraryBot, replaceFile, runBot } from "../../../shared/sdk/index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { waitFor } from "../../../test/helpers/pipeline.js";
import bot from "./index.js";
import { IpAsnDb } from "./ipasn.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const DAT = "; IP-ASN32-DAT file\n;\n192.0.2.0/24\t64496\n192.0.2.128/25\t64497\n198.51.100.0/24\t64498\n2001:db8::/32\t64499\n2001:db8:1::/48\t64500\n";

function dat(text = DAT): string {
  const f = join(tempDir("ipasn-"), "ipasn.dat");
  writeFileSync(f, text);
  return f;
}

test("asn_lookup: asn and network by longest prefix, IPv4 and IPv6; no match leaves the event alone", async () => {
  const out = await runBot(bot, {
    params: { database: dat() },
    input: [ev({ "source.ip": "192.0.2.200", "destination.ip": "192.0.2.7" }), ev({ "source.ip": "2001:db8:1::5", "destination.ip": "2001:db8:2::5" }), ev({ "source.ip": "203.0.113.1" })],
  });
  assert.deepEqual(out.output._default, [
    ev({ "source.ip": "192.0.2.200", "source.asn": 64497, "source.network": "192.0.2.128/25", "destination.ip": "192.0.2.7", "destination.asn": 64496, "destination.network": "192.0.2.0/24" }),
    ev({ "source.ip": "2001:db8:1::5", "source.asn": 64500, "source.network": "2001:db8:1::/48", "destination.ip": "2001:db8:2::5", "destination.asn": 64499, "destination.network": "2001:db8::/32" }),
    ev({ "source.ip": "203.0.113.1" }),
  ]);
});

test("asn_lookup: existing asn and network are replaced, as IntelMQ", async () => {
  const out = await runBot(bot, { params: { database: dat() }, input: [ev({ "source.ip": "198.51.100.1", "source.asn": 1, "source.network": "198.51.0.0/16" })] });
  assert.deepEqual(out.output._default, [ev({ "source.ip": "198.51.100.1", "source.asn": 64498, "source.network": "198.51.100.0/24" })]);
});

test("asn_lookup: a missing or broken file stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { database: "/nonexistent/ipasn.dat" }, input: [] }), /database/);
  await assert.rejects(runBot(bot, { params: {}, input: [] }), /database/);
  await assert.rejects(runBot(bot, { params: { database: dat("<html>not found</html>\n") }, input: [] }), /line 1/);
  assert.throws(() => IpAsnDb.parse("; only comments\n"), /no prefixes/);
});

test("asn_lookup: a replaced file is loaded by the running bot; a broken one is not", async () => {
  const file = dat();
  const b = await createLibraryBot(bot, { params: { database: file } });
  try {
    const asn = async () => (await b.process([ev({ "source.ip": "198.51.100.1" })])).output._default![0]!["source.asn"];
    assert.equal(await asn(), 64498);
    replaceFile(file, Buffer.from("198.51.100.0/24\t64511\n"));
    await waitFor(async () => (await asn()) === 64511, 10_000, "the new file is loaded");
    replaceFile(file, Buffer.from("garbage\n"));
    writeFileSync(join(file, "..", "other"), "x"); // another file of the folder changing is no reason to reload
    replaceFile(file, Buffer.from("garbage again\n"));
    assert.equal(await asn(), 64511, "the loaded database is kept");
  } finally {
    await b.shutdown();
  }
});
