// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBot } from "../../../shared/sdk/index.js";
import bot, { validDomain } from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const TLDS = new Set(["info", "digital", "com", "xn--fiqs8s"]);

function tldFile(): string {
  const f = join(tempDir("tlds-"), "tlds-alpha-by-domain.txt");
  writeFileSync(f, "# Version 2024010100, Last Updated Mon Jan  1 07:07:01 2024 UTC\nINFO\nDIGITAL\nCOM\nXN--FIQS8S\n");
  return f;
}

test("validDomain: syntax, underscores and the TLD list", () => {
  assert.equal(validDomain("soltane-tel-injas-heh.digital", TLDS), true);
  assert.equal(validDomain("apk.info", TLDS), true);
  assert.equal(validDomain("xn--85x722f.xn--fiqs8s", TLDS), true);
  assert.equal(validDomain("-apk.info", TLDS), false, "a label starting with a hyphen");
  assert.equal(validDomain("so6_ltane.digital", TLDS), false, "an underscore");
  assert.equal(validDomain("example.invalidtld", TLDS), false, "not in the list");
  assert.equal(validDomain("localhost", TLDS), false, "a single label");
  assert.equal(validDomain(`${"a".repeat(64)}.com`, TLDS), false, "a label over 63 characters");
});

test("domain_valid: valid names pass, others and events without the field are dropped", async () => {
  const out = await runBot(bot, {
    params: { tlds_domains_list: tldFile() },
    input: [ev({ "source.fqdn": "apk.info" }), ev({ "source.fqdn": "-apk.info" }), ev({ "source.ip": "192.0.2.1" })],
  });
  assert.deepEqual(out.output._default!.map((e) => e["source.fqdn"]), ["apk.info"]);
  const other = await runBot(bot, { params: { tlds_domains_list: tldFile(), domain_field: "destination.fqdn" }, input: [ev({ "destination.fqdn": "mail.example.com" })] });
  assert.equal(other.output._default!.length, 1);
});

test("domain_valid: a missing TLD list stops the bot, naming the parameter", async () => {
  await assert.rejects(runBot(bot, { params: { tlds_domains_list: "/nonexistent/tlds.txt" }, input: [] }), (e: Error) => /tlds_domains_list/.test(e.message));
});
