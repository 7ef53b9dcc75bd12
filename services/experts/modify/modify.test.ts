// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigurationError, runBot } from "../../../shared/sdk/index.js";
import bot from "./index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { dumpReason, dumpedMessage } from "../../../test/helpers/dumps.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const dir = tempDir("modify-");
let n = 0;

/** Writes a rules file (JSON text or YAML) and returns its path. */
function rulesFile(rules: unknown): string {
  const file = join(dir, `rules-${++n}.conf`);
  writeFileSync(file, typeof rules === "string" ? rules : JSON.stringify(rules, null, "\t"));
  return file;
}

const RULES = rulesFile([
  { rulename: "web ports", if: { "source.port": "^(80|443)$" }, then: { "protocol.application": "http", "protocol.transport": "tcp" } },
  { rulename: "vendor prefix", if: { "malware.name": "^vendor-(?P<family>.*)$" }, then: { "classification.identifier": "{matches[malware.name][family]}" } },
  { rulename: "default id", if: { "classification.identifier": "", "malware.name": ".*" }, then: { "classification.identifier": "{msg[malware.name]}" } },
  { rulename: "dga feed", if: { "classification.identifier": "", "feed.name": "^DGA Feed$" }, then: { "classification.identifier": "dga" } },
]);

test("modify: rules apply in order, later rules see earlier changes", async () => {
  const out = await runBot(bot, {
    params: { configuration_path: RULES },
    input: [
      ev({ "source.port": 443, "malware.name": "zeus" }),
      ev({ "malware.name": "vendor-emotet" }),
      ev({ "source.port": 80, "feed.name": "DGA Feed" }),
      ev({ "source.port": 8080, "feed.name": "Other" }),
    ],
  });
  const [a, b, c, d] = out.output._default!;
  assert.deepEqual(a, ev({ "source.port": 443, "malware.name": "zeus", "protocol.application": "http", "protocol.transport": "tcp", "classification.identifier": "zeus" }));
  // the named group sets the identifier; "default id" then finds it set and does not apply
  assert.equal(b!["classification.identifier"], "emotet");
  assert.equal(c!["classification.identifier"], "dga");
  assert.equal(c!["protocol.application"], "http");
  assert.deepEqual(d, ev({ "source.port": 8080, "feed.name": "Other" }));
});

test("modify: maximum_matches stops after that many rules", async () => {
  const input = [ev({ "source.port": 80, "feed.name": "DGA Feed" })];
  const out = await runBot(bot, { params: { configuration_path: RULES, maximum_matches: "1" }, input });
  const got = out.output._default![0]!;
  assert.equal(got["protocol.application"], "http");
  assert.equal(got["classification.identifier"], undefined);
});

test("modify: booleans, numbers and absent fields as conditions; non-string actions", async () => {
  const file = rulesFile([
    { rulename: "tor", if: { "source.tor_node": true }, then: { "event_description.text": "tor" } },
    { rulename: "not tor", if: { "source.tor_node": "False" }, then: { "event_description.text": "not tor" } },
    { rulename: "unknown", if: { "source.tor_node": "" }, then: { "event_description.text": "unknown" } },
    { rulename: "exact accuracy", if: { "feed.accuracy": 50 }, then: { "extra.exact": true } },
    // a Float field is searched as Python's str() shows it: 100 -> "100.0"
    { rulename: "accuracy text", if: { "feed.accuracy": "^100\\.0$" }, then: { "extra.count": 1 } },
  ]);
  const out = await runBot(bot, {
    params: { configuration_path: file },
    input: [ev({ "source.tor_node": true }), ev({ "source.tor_node": false }), ev({ "feed.accuracy": 50 }), ev({ "feed.accuracy": 100 })],
  });
  const [a, b, c, d] = out.output._default!;
  assert.equal(a!["event_description.text"], "tor");
  assert.equal(b!["event_description.text"], "not tor");
  assert.equal(c!["event_description.text"], "unknown");
  assert.equal(c!["extra.exact"], true);
  assert.equal(d!["extra.count"], 1);
});

test("modify: overwrite (default true) and case_sensitive", async () => {
  const file = rulesFile("- rulename: retype\n  if:\n    classification.type: INFECTED\n  then:\n    classification.type: vulnerable-system\n");
  const input = [ev({ "classification.type": "infected-system" })];
  const sensitive = await runBot(bot, { params: { configuration_path: file }, input });
  assert.equal(sensitive.output._default![0]!["classification.type"], "infected-system");
  const replaced = await runBot(bot, { params: { configuration_path: file, case_sensitive: false }, input });
  assert.equal(replaced.output._default![0]!["classification.type"], "vulnerable-system");
  const kept = await runBot(bot, { params: { configuration_path: file, case_sensitive: false, overwrite: false }, input });
  assert.equal(kept.output._default![0]!["classification.type"], "infected-system");
});

test("modify: a format field naming an absent key fails that event only", async () => {
  const file = rulesFile([{ rulename: "copy", if: {}, then: { "classification.identifier": "{msg[malware.name]}" } }]);
  const out = await runBot(bot, { params: { configuration_path: file }, input: [ev({ "feed.name": "x" }), ev({ "malware.name": "zeus" })] });
  assert.equal(out.dumped, 1);
  assert.match(dumpReason(out.dumps[0]!), /KeyError: 'malware\.name'/);
  assert.deepEqual(dumpedMessage(out.dumps[0]!), ev({ "feed.name": "x" }));
  assert.equal(out.output._default!.length, 1);
  assert.equal(out.output._default![0]!["classification.identifier"], "zeus");
});

test("modify: a missing or malformed rules file fails the start, naming configuration_path", async () => {
  const isConfigError = (e: unknown) => e instanceof ConfigurationError && /configuration_path/.test(e.message);
  await assert.rejects(runBot(bot, { params: { configuration_path: join(dir, "absent.conf") }, input: [] }), isConfigError);
  await assert.rejects(runBot(bot, { params: { configuration_path: rulesFile("[{") }, input: [] }), isConfigError);
  await assert.rejects(runBot(bot, { params: { configuration_path: rulesFile({ rulename: "x" }) }, input: [] }), isConfigError);
  await assert.rejects(runBot(bot, { params: { configuration_path: rulesFile([{ rulename: "x", if: { "feed.name": "(" }, then: {} }]) }, input: [] }), isConfigError);
  await assert.rejects(runBot(bot, { params: { configuration_path: rulesFile([{ rulename: "x", then: {} }]) }, input: [] }), isConfigError);
});
