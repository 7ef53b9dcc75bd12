// SPDX-License-Identifier: AGPL-3.0-only
/** `intelmqctl check` without NATS: a runtime.yaml without bots, bots cut off by a bot that cannot run. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { intelmqPaths, parseRuntimeConfig } from "../shared/config/index.js";
import { src } from "../test/helpers/paths.js";
import { tempDir } from "../test/helpers/tmp.js";
import { runCheck, unreachableBots } from "./ctl-check.js";

function rootWith(runtimeYaml: string) {
  const root = tempDir("imq-check-");
  mkdirSync(join(root, "etc"));
  copyFileSync(src("etc", "harmonization.conf"), join(root, "etc", "harmonization.conf"));
  writeFileSync(join(root, "etc", "runtime.yaml"), runtimeYaml);
  return intelmqPaths({ INTELMQ_ROOT_DIR: root });
}

const check = (yaml: string) => runCheck(rootWith(yaml), { noConnections: true, connect: () => Promise.reject(new Error("no NATS here")) });

test("an empty runtime.yaml fails the check, saying it has no bots", async () => {
  for (const text of ["", "# to do\n", "global:\n  logging_level: INFO\n"]) {
    const r = await check(text);
    assert.equal(r.status, "error", text);
    assert.ok(r.lines.some(([l, m]) => l === "error" && /has no bots/.test(m)), JSON.stringify(r.lines));
  }
});

const bot = (module: string, to: string[] | null, extra: Record<string, unknown> = {}) => ({
  module, name: "n", group: module.includes(".collectors.") ? "Collector" : module.includes(".parsers.") ? "Parser" : module.includes(".outputs.") ? "Output" : "Expert",
  description: "d", enabled: true, parameters: { ...(to ? { destination_queues: { _default: to } } : {}), ...extra },
});

test("bots behind a bot that is not installed are named as receiving nothing", async () => {
  const yaml = stringify({
    "feed-collector": bot("intelmq.bots.collectors.file.collector_file", ["feed-parser-queue"], { path: "/tmp/x", postfix: ".csv" }),
    "feed-parser": bot("intelmq.bots.parsers.json.parser", ["whois-expert-queue"]),
    "whois-expert": bot("intelmq.bots.experts.mcafee.expert_mar", ["taxonomy-expert-queue"]),
    "taxonomy-expert": bot("intelmq.bots.experts.taxonomy.expert", ["file-output-queue"]),
    "file-output": bot("intelmq.bots.outputs.file.output", null, { file: "var/out.txt" }),
    // Fed by another tool (nothing configured writes to its queue): reachable.
    "partner-parser": bot("intelmq.bots.parsers.json.parser", ["file-output-queue"]),
  });
  const r = await check(yaml);
  const warnings = r.lines.filter(([l]) => l === "warning").map(([, m]) => m);
  assert.deepEqual(warnings.filter((m) => /receives nothing/.test(m)), [
    'Bot "taxonomy-expert" receives nothing: the bots upstream of it cannot run ("whois-expert": not installed).',
  ]);
  // file-output is still fed by partner-parser.
  assert.ok(!warnings.some((m) => m.startsWith('Bot "file-output"')));
});

test("unreachableBots: every path blocked names every blocking bot; a loop without a collector is named too", () => {
  const cfg = parseRuntimeConfig(stringify({
    c1: bot("intelmq.bots.collectors.file.collector_file", ["a-queue"]),
    c2: bot("intelmq.bots.collectors.file.collector_file", ["b-queue"]),
    a: bot("intelmq.bots.experts.taxonomy.expert", ["out-queue"]),
    b: bot("intelmq.bots.experts.taxonomy.expert", ["out-queue"]),
    out: bot("intelmq.bots.outputs.file.output", null),
    x: bot("intelmq.bots.experts.taxonomy.expert", ["y-queue"]),
    y: bot("intelmq.bots.experts.taxonomy.expert", ["x-queue"]),
  }));
  assert.deepEqual(unreachableBots(cfg, new Map([["a", "not installed"]])), [
    'Bot "x" receives nothing: no collector feeds the bots upstream of it (its queues form a loop).',
    'Bot "y" receives nothing: no collector feeds the bots upstream of it (its queues form a loop).',
  ]);
  assert.deepEqual(unreachableBots(cfg, new Map([["a", "not installed"], ["b", "invalid parameters"]])).slice(0, 1), [
    'Bot "out" receives nothing: the bots upstream of it cannot run ("a": not installed, "b": invalid parameters).',
  ]);
});

test("check: queue limits on a collector or disagreeing on a shared queue, IntelMQ's keys of a wrong type and typos of ours are warnings", async () => {
  const yaml = stringify({
    global: { queue_max_byte: 1000, statistics_port: "six", logging_path: "/opt/intelmq/var/log/" },
    "feed-collector": bot("intelmq.bots.collectors.file.collector_file", ["feed-parser-queue"], { path: "/tmp/x", postfix: ".csv", queue_max_msgs: 5 }),
    "feed-parser": bot("intelmq.bots.parsers.json.parser", ["out-queue"], { queue_max_msgs: 10 }),
    "out-a": bot("intelmq.bots.outputs.file.output", null, { file: "var/a.txt", source_queue: "out-queue", queue_max_bytes: 5000 }),
    "out-b": bot("intelmq.bots.outputs.file.output", null, { file: "var/b.txt", source_queue: "out-queue", queue_max_bytes: 9000 }),
  });
  const r = await check(yaml);
  assert.equal(r.status, "success", JSON.stringify(r.lines));
  const warnings = r.lines.filter(([l]) => l === "warning").map(([, m]) => m);
  assert.ok(warnings.includes('Bot "feed-collector": queue_max_msgs limit its source queue, and a collector has none (ignored).'), JSON.stringify(warnings));
  assert.ok(warnings.includes("Bots \"out-a\", \"out-b\" share the source queue 'out-queue' with different queue_max_bytes: the smallest holds (max_bytes 5000, max_msgs none)."), JSON.stringify(warnings));
  assert.ok(warnings.some((m) => /unknown key "queue_max_byte".*queue_max_bytes/.test(m)), JSON.stringify(warnings));
  assert.ok(warnings.some((m) => /IntelMQ's key "statistics_port"/.test(m)), JSON.stringify(warnings));
  // Our own limits are no unknown parameters of the bots.
  assert.ok(!warnings.some((m) => /unknown parameter "queue_max_(bytes|msgs)"/.test(m)), JSON.stringify(warnings));
});

test("check: a bot's own check runs: a sieve file's syntax error is named with file, line and column", async () => {
  const root = tempDir("imq-check-sieve-");
  const bad = join(root, "bad.sieve");
  writeFileSync(bad, "if comment == 'x' {\n  add comment 'y'\n}\n");
  const good = join(root, "good.sieve");
  writeFileSync(good, "if source.ip << '10.0.0.0/8' { drop }\n");
  const yaml = (file: string) => stringify({
    "feed-collector": bot("intelmq.bots.collectors.file.collector_file", ["feed-parser-queue"], { path: "/tmp/x", postfix: ".csv" }),
    "feed-parser": bot("intelmq.bots.parsers.json.parser", ["sieve-expert-queue"]),
    "sieve-expert": bot("intelmq.bots.experts.sieve.expert", ["file-output-queue"], { file }),
    "file-output": bot("intelmq.bots.outputs.file.output", null, { file: "var/out.txt" }),
  });
  const r = await check(yaml(bad));
  assert.equal(r.status, "error");
  assert.ok(r.lines.some(([l, m]) => l === "error" && m === `Bot "sieve-expert": ${bad}:2:15: expected '=', '+=' or '-=', found string 'y'`), JSON.stringify(r.lines));
  assert.ok(r.lines.some(([l, m]) => l === "warning" && m.startsWith('Bot "file-output" receives nothing') && m.includes('"sieve-expert": invalid configuration')), JSON.stringify(r.lines));
  const ok = await check(yaml(good));
  assert.equal(ok.status, "success", JSON.stringify(ok.lines));
});

test("check: a bot's local database that does not exist is named, with the command that downloads it", async () => {
  const r = await check(stringify({
    "tor-expert": bot("intelmq.bots.experts.tor_nodes.expert", ["file-output-queue"], { database: "var/lib/bots/tor_nodes/missing.dat" }),
    "file-output": bot("intelmq.bots.outputs.file.output", null, { file: "var/out.txt" }),
  }));
  const warnings = r.lines.filter(([l]) => l === "warning").map(([, m]) => m);
  assert.deepEqual(warnings.filter((m) => /database/.test(m)).map((m) => m.replace(/ \/\S+missing\.dat/, " <file>")), [
    'Bot "tor-expert": its database <file> does not exist (intelmq-bot tor-expert --update-database downloads it).',
  ]);
});
