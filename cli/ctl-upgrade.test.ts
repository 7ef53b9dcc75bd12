// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl upgrade-config`: IntelMQ 1.x, 2.x and 3.x configurations of our own (fixtures/upgrade)
 * become runtime.yaml, and `intelmqctl check` then finds no error but for the bots whose modules
 * are not available here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { intelmqPaths } from "../shared/config/index.js";
import { src } from "../test/helpers/paths.js";
import { tempDir } from "../test/helpers/tmp.js";
import { loadHarmonization } from "../shared/harmonization/index.js";
import { runBot } from "../shared/sdk/index.js";
import taxonomy from "../services/experts/taxonomy/index.js";
import { runCheck } from "./ctl-check.js";
import { readIntelmqConfig, unifiedDiff, upgradeConfig } from "./ctl-upgrade.js";

const FIXTURES = src("cli", "fixtures", "upgrade");
const CTL = src("bin", "intelmqctl.mjs");

function emptyRoot(): string {
  const root = tempDir("imq-upgrade-");
  mkdirSync(join(root, "etc"));
  copyFileSync(src("etc", "harmonization.conf"), join(root, "etc", "harmonization.conf"));
  return root;
}

function ctl(root: string, args: string[]) {
  return spawnSync(process.execPath, [CTL, ...args], { env: { ...process.env, INTELMQ_ROOT_DIR: root }, encoding: "utf8", timeout: 60_000 });
}

/** Convert a fixture into a fresh root, then check it; the error lines must all be about `missing`. */
async function convertAndCheck(version: string, missing: string[]) {
  const root = emptyRoot();
  const r = ctl(root, ["upgrade-config", "--from", join(FIXTURES, version), "-t", "json"]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout) as { missing: { id: string; message: string }[]; invalid: unknown[]; notes: { botId: string | null; kind: string; message: string }[] };
  assert.deepEqual(out.missing.map((m) => m.id).sort(), [...missing].sort());
  assert.deepEqual(out.invalid, []);
  const check = await runCheck(intelmqPaths({ INTELMQ_ROOT_DIR: root }), { noConnections: true, connect: () => Promise.reject(new Error("no NATS")) });
  const errors = check.lines.filter(([l]) => l === "error").map(([, m]) => m);
  assert.deepEqual(errors.filter((m) => !missing.some((id) => m.includes(`"${id}"`))), [], "no error about an implemented bot");
  assert.equal(errors.length, missing.length);
  // No warning about an implemented bot's parameters.
  assert.deepEqual(check.lines.filter(([l, m]) => l === "warning" && /unknown parameter|has no/.test(m)), []);
  const yaml = parse(readFileSync(join(root, "etc", "runtime.yaml"), "utf8")) as Record<string, Record<string, unknown> & { parameters: Record<string, unknown> }>;
  return { root, out, yaml };
}

test("IntelMQ 1.x: defaults.conf becomes global, pipeline.conf the queues, renamed modules and parameters follow", async () => {
  const { out, yaml } = await convertAndCheck("v1", ["mdl-parser"]);
  const g = yaml.global as unknown as Record<string, unknown>;
  assert.equal(g.process_manager, "intelmq");
  assert.equal(g.source_pipeline_broker, "redis");
  assert.ok(!("broker" in g) && !("proccess_manager" in g));
  assert.deepEqual(yaml["bogons-collector"]!.parameters.destination_queues, { _default: ["bogons-parser-queue"] });
  assert.equal(yaml["bogons-collector"]!.parameters.name, "Cymru Full Bogons");
  assert.equal(yaml["bogons-parser"]!.module, "intelmq.bots.parsers.cymru.parser_full_bogons");
  assert.ok(!("source_queue" in yaml["bogons-parser"]!.parameters), "the default source queue is not written");
  assert.equal(yaml["postgresql-output"]!.parameters.source_queue, "events-to-sql");
  assert.equal(yaml["postgresql-output"]!.module, "intelmq.bots.outputs.sql.output");
  assert.equal(yaml["postgresql-output"]!.parameters.engine, "postgresql");
  assert.equal(yaml["ripencc-expert"]!.module, "intelmq.bots.experts.ripe.expert");
  assert.equal(yaml["ripencc-expert"]!.parameters.query_ripe_stat_ip, true);
  assert.equal(yaml["cymru-whois-expert"]!.parameters.overwrite, true);
  assert.equal(yaml["url2fqdn-expert"]!.module, "intelmq.bots.experts.url.expert");
  assert.ok(Array.isArray(yaml["url2fqdn-expert"]!.parameters.skip_fields));
  assert.equal(yaml["feodo-ips-collector"]!.parameters.http_url, "https://feodotracker.abuse.ch/downloads/ipblocklist.csv");
  assert.equal(yaml["spamhaus-drop-parser"]!.enabled, true);
  const removed = out.notes.filter((n) => n.kind === "removed").map((n) => n.botId).sort();
  assert.deepEqual(removed, ["feodo-ips-collector", "mdl-collector", "mdl-parser"]);
  assert.ok(out.notes.some((n) => /BOTS is not used/.test(n.message)), "the BOTS file is named as not used");
});

test("IntelMQ 2.x: named paths, the CSV parser's old names, the Manager's keys dropped", async () => {
  const { yaml } = await convertAndCheck("v2", []);
  assert.deepEqual(yaml["filter-expert"]!.parameters.destination_queues, {
    _default: ["file-output-queue", "elasticsearch-output-queue"], action_other: ["other-output-queue"], _on_error: ["errors-queue"],
  });
  const csv = yaml["urlhaus-parser"]!;
  assert.ok(!("bot_id" in csv) && !("groupname" in csv));
  assert.equal(csv.parameters.delimiter, ",");
  assert.deepEqual(csv.parameters.default_fields, { "classification.type": "malware-distribution" });
  assert.ok(!("type" in csv.parameters) && !("delimeter" in csv.parameters));
  assert.equal((csv.parameters.columns as string[])[3], "classification.type|__IGNORE__");
  assert.equal(yaml["shadowserver-netbios-parser"]!.parameters.feedname, "Open-NetBIOS-Nameservice");
  assert.equal(yaml["shadowserver-mail-collector"]!.parameters.extract_files, true);
  assert.ok(!("elastic_doctype" in yaml["elasticsearch-output"]!.parameters));
  assert.equal(yaml["elasticsearch-output"]!.enabled, false);
});

test("IntelMQ 3.x runtime.yaml of an older layout: renamed bots and moved feeds; 3.x does not pin 2.0.2's defaults", async () => {
  const { yaml, out } = await convertAndCheck("v3", ["netlab-parser", "mar-expert"]);
  assert.equal(yaml["url2fqdn-expert"]!.module, "intelmq.bots.experts.url.expert");
  assert.equal(yaml["url2fqdn-expert"]!.parameters.overwrite, false);
  assert.equal(yaml["turris-collector"]!.parameters.http_url, "https://view.sentinel.turris.cz/greylist-data/greylist-latest.csv");
  assert.match(out.missing.find((m) => m.id === "netlab-parser")!.message, /removed from IntelMQ in 3\.2\.2/);
  assert.match(out.missing.find((m) => m.id === "mar-expert")!.message, /not implemented by intelmq-nats yet/);
});

test("--dry-run prints the diff and writes nothing; a real run keeps the replaced file as .bak; a second run changes nothing", () => {
  const root = emptyRoot();
  const file = join(root, "etc", "runtime.yaml");
  writeFileSync(file, "global: {}\nold-bot:\n  module: intelmq.bots.experts.taxonomy.expert\n");
  const dry = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v3"), "--dry-run"]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /^-old-bot:$/m);
  assert.match(dry.stdout, /^\+feodo-tracker-collector:$/m);
  assert.match(dry.stdout, /Dry run: nothing written\./);
  assert.equal(readFileSync(file, "utf8"), "global: {}\nold-bot:\n  module: intelmq.bots.experts.taxonomy.expert\n");
  const real = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v3")]);
  assert.equal(real.status, 0, real.stderr);
  assert.match(readFileSync(`${file}.bak`, "utf8"), /old-bot/);
  assert.match(readFileSync(file, "utf8"), /feodo-tracker-parser:/);
  const again = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v3")]);
  assert.match(again.stdout, /is up to date\./);
  // IntelMQ's files are never changed.
  assert.ok(existsSync(join(FIXTURES, "v1", "pipeline.conf")));
});

test("the conversion is the same when run on its own result (idempotent steps)", async () => {
  const first = await upgradeConfig(readIntelmqConfig(join(FIXTURES, "v2")));
  const dir = tempDir("imq-upgrade-again-");
  writeFileSync(join(dir, "runtime.yaml"), first.text);
  const second = await upgradeConfig(readIntelmqConfig(dir), { previous: first.version });
  assert.deepEqual(second.config, first.config);
  assert.deepEqual(second.notes.filter((n) => n.kind === "changed"), []);
});

test("harmonization.conf: IntelMQ's upgrade brings an installation's to the current fields and types, keeping its own fields", async () => {
  const root = emptyRoot();
  const r = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v2"), "-t", "json"]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout) as { notes: { message: string }[]; harmonization: { target: string; written: string; backup: string | null } };
  const notes = out.notes.map((n) => n.message).filter((m) => m.startsWith("harmonization.conf"));
  assert.deepEqual(notes.sort(), [
    "harmonization.conf: event field destination.domain_suffix added (FQDN)",
    "harmonization.conf: event field source.domain_suffix added (FQDN)",
    "harmonization.conf: event field tlp added (TLP)",
    "harmonization.conf: event fields of this installation kept: source.customer_id",
    "harmonization.conf: type of event field extra changed from JSON to JSONDict",
  ]);
  const file = join(root, "etc", "harmonization.conf");
  assert.equal(out.harmonization.target, file);
  assert.equal(out.harmonization.written, file);
  assert.ok(out.harmonization.backup && existsSync(out.harmonization.backup), "the replaced harmonization.conf is kept");
  const written = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, { type: string }>>;
  assert.equal(written.event!.tlp!.type, "TLP");
  assert.equal(written.event!.extra!.type, "JSONDict");
  // The installation's own field works in our bots, as in IntelMQ.
  const h = loadHarmonization(file);
  const run = await runBot(taxonomy, { harmonization: h, params: { error_max_retries: 0 }, input: [{ __type: "Event", "classification.type": "scanner", "source.customer_id": "C-042" }] });
  assert.equal((run.output._default![0] as Record<string, unknown>)["source.customer_id"], "C-042");
  assert.equal((run.output._default![0] as Record<string, unknown>)["classification.taxonomy"], "information-gathering");
  // An IntelMQ 3 installation's file keeps its own fields and words; a second run changes nothing.
  const v3 = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v3"), "-t", "json"]);
  assert.equal(v3.status, 0, v3.stderr);
  const mine = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, { description?: string }>>;
  assert.equal(mine.event!.comment!.description, "Analyst comment (local wording).");
  assert.ok(mine.event!["source.customer_id"]);
  const again = ctl(root, ["upgrade-config", "--from", join(FIXTURES, "v3")]);
  assert.match(again.stdout, /harmonization\.conf is up to date\./);
});

test("unifiedDiff: hunks with context", () => {
  const a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
  const b = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n";
  assert.equal(unifiedDiff(a, a, "x", "y"), "");
  const far = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  assert.equal(unifiedDiff(far, far.replace("2\n", "two\n").replace("11\n", "eleven\n"), "x", "y"),
    "--- x\n+++ y\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+eleven\n 12\n");
  assert.equal(unifiedDiff(a, b, "x", "y"), "--- x\n+++ y\n@@ -1,10 +1,11 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n i\n j\n+k\n");
});
