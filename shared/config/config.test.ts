// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode, hasCode } from "../errors/index.js";
import { tempDir } from "../../test/helpers/tmp.js";
import {
  DEFAULT_NATS_URL, PROJECT_ROOT, effectiveParams, getBot, intelmqPaths, loadRuntimeConfig, natsOptions,
  collectorQueues, parseRuntimeConfig, queueSettings, queueSettingsFor, remappedPathLines, remappedPaths, saveRuntimeConfig,
  setBotEnabled, setBotEnabledText,
} from "./index.js";

const SAMPLE = `# our pipeline
global:
  error_procedure: pass
  rate_limit: 5
  logging_level: INFO
  nats_servers: [nats://10.0.0.1:4222, nats://10.0.0.2:4222]
  nats_user: alice
  nats_password: secret
feodo-collector:   # the collector
  name: Feodo Tracker
  group: Collector
  module: intelmq.bots.collectors.http.collector_http
  description: Generic URL Fetcher
  enabled: true
  run_mode: scheduled
  instances: 2
  parameters:
    http_url: https://feodotracker.abuse.ch/downloads/ipblocklist.json
    rate_limit: 86400
    destination_queues: [feodo-parser-queue]
feodo-parser:
  group: Parser
  module: intelmq.bots.parsers.abusech.parser_feodotracker
  enabled: false
  parameters:
    destination_queues: {_default: [dedup-queue], _on_error: [errors]}
`;

function tmp(): string {
  return tempDir("imq-config-");
}

test("paths follow INTELMQ_ROOT_DIR, default the project root", () => {
  assert.ok(existsSync(join(PROJECT_ROOT, "package.json")));
  const def = intelmqPaths({});
  assert.equal(def.root, PROJECT_ROOT);
  const p = intelmqPaths({ INTELMQ_ROOT_DIR: "/opt/x" });
  assert.equal(p.runtimeConfFile, "/opt/x/etc/runtime.yaml");
  assert.equal(p.harmonizationConfFile, "/opt/x/etc/harmonization.conf");
  assert.equal(p.logDir, "/opt/x/var/log");
  assert.equal(p.stateDir, "/opt/x/var/lib/bots");
  assert.equal(p.runDir, "/opt/x/var/run");
});

test("loads IntelMQ 3 runtime.yaml with system keys and our additions", () => {
  const cfg = parseRuntimeConfig(SAMPLE, "/x/runtime.yaml");
  assert.deepEqual(Object.keys(cfg.bots), ["feodo-collector", "feodo-parser"]);
  const c = cfg.bots["feodo-collector"]!;
  assert.equal(c.module, "intelmq.bots.collectors.http.collector_http");
  assert.equal(c.run_mode, "scheduled");
  assert.equal(c.instances, 2);
  assert.equal(c.enabled, true);
  const p = cfg.bots["feodo-parser"]!;
  assert.equal(p.enabled, false);
  assert.equal(p.run_mode, "continuous");
  assert.equal(p.instances, 1);
  assert.equal(cfg.warnings.length, 0);
});

test("effective parameters: global < system keys < parameters < environment", () => {
  const cfg = parseRuntimeConfig(SAMPLE);
  const eff = effectiveParams(cfg, "feodo-collector", {
    INTELMQ_HTTP_URL: "http://127.0.0.1/x", INTELMQ_ERROR_MAX_RETRIES: "7", INTELMQ_TESTING: "True",
    INTELMQ_LOAD_BALANCE: "False", INTELMQ_RATIO: "-1", INTELMQ_ROOT_DIR: "/tmp", PATH: "/bin",
  });
  assert.equal(eff.error_procedure, "pass"); // global
  assert.equal(eff.logging_level, "INFO");
  assert.equal(eff.rate_limit, 86400); // parameters beat global
  assert.equal(eff.run_mode, "scheduled"); // system key
  assert.equal(eff.name, "Feodo Tracker");
  assert.equal(eff.module, "intelmq.bots.collectors.http.collector_http");
  assert.equal(eff.http_url, "http://127.0.0.1/x"); // environment beats parameters
  assert.equal(eff.error_max_retries, 7); // digits -> integer
  assert.equal(eff.testing, true); // "True" -> true
  assert.equal(eff.load_balance, false);
  assert.equal(eff.ratio, "-1"); // not all digits: stays a string, as IntelMQ's isnumeric()
  assert.equal(eff.root_dir, undefined); // a tool setting, not a parameter
  assert.equal(eff.nats_password, undefined); // our NATS settings stay out of bot parameters
  assert.equal(eff.nats_servers, undefined);
});

test("falsy system keys are not copied, as IntelMQ does", () => {
  const cfg = parseRuntimeConfig(SAMPLE);
  const eff = effectiveParams(cfg, "feodo-parser", {});
  assert.equal(eff.enabled, undefined);
  assert.equal(eff.group, "Parser");
  assert.equal(eff.rate_limit, 5); // from global
});

test("parameters pass through unchanged (destination_queues is the runtime's)", () => {
  const cfg = parseRuntimeConfig(SAMPLE);
  assert.deepEqual(effectiveParams(cfg, "feodo-collector", {}).destination_queues, ["feodo-parser-queue"]);
  assert.deepEqual(effectiveParams(cfg, "feodo-parser", {}).destination_queues, { _default: ["dedup-queue"], _on_error: ["errors"] });
});

test("unknown bot id in effectiveParams is a ConfigurationError naming the bot", () => {
  const cfg = parseRuntimeConfig(SAMPLE, "/x/runtime.yaml");
  assert.throws(() => effectiveParams(cfg, "nope", {}), (e: unknown) =>
    hasCode(e, ErrorCode.ConfigurationError) && /nope/.test((e as Error).message) && /\/x\/runtime\.yaml/.test((e as Error).message));
});

test("unknown system keys give warnings, not errors", () => {
  const cfg = parseRuntimeConfig("b1:\n  module: intelmq.bots.experts.taxonomy.expert\n  http_url: x\n  bot_id: b1\n");
  assert.equal(cfg.warnings.length, 1);
  assert.equal(cfg.warnings[0]!.botId, "b1");
  assert.match(cfg.warnings[0]!.message, /http_url/);
  assert.equal(effectiveParams(cfg, "b1", {}).http_url, undefined);
});

test("invalid YAML names the file", () => {
  const dir = tmp();
  const f = join(dir, "runtime.yaml");
  writeFileSync(f, "global: {a: 1\nbot: [\n");
  assert.throws(() => loadRuntimeConfig(f), (e: unknown) => hasCode(e, ErrorCode.ConfigurationError) && (e as Error).message.includes(f));
});

test("invalid bot id names the file and the bot", () => {
  assert.throws(() => parseRuntimeConfig("my_bot:\n  module: m\n", "/etc/r.yaml"), (e: unknown) => {
    const m = (e as Error).message;
    return hasCode(e, ErrorCode.ConfigurationError) && m.includes("/etc/r.yaml") && m.includes("my_bot") && /bot id/.test(m);
  });
});

test("invalid keys name the file, the bot and the key", () => {
  const check = (yaml: string, key: string) => assert.throws(() => parseRuntimeConfig(yaml, "/etc/r.yaml"), (e: unknown) => {
    const m = (e as Error).message;
    return hasCode(e, ErrorCode.ConfigurationError) && m.includes("/etc/r.yaml") && m.includes('"b1"') && m.includes(key);
  }, key);
  check("b1:\n  module: m\n  run_mode: sometimes\n", "run_mode");
  check("b1:\n  name: x\n", "module");
  check("b1:\n  module: m\n  parameters: [1, 2]\n", "parameters");
  check("b1:\n  module: m\n  instances: 0\n", "instances");
  assert.throws(() => parseRuntimeConfig("global:\n  nats_servers: 5\n", "/etc/r.yaml"), /global.*nats_servers/);
  assert.throws(() => parseRuntimeConfig("- a\n- b\n", "/etc/r.yaml"), /\/etc\/r\.yaml.*mapping/);
});

test("a missing file is an error unless missingOk", () => {
  const f = join(tmp(), "none.yaml");
  assert.throws(() => loadRuntimeConfig(f), (e: unknown) => hasCode(e, ErrorCode.ConfigurationError) && (e as Error).message.includes(f));
  assert.deepEqual(loadRuntimeConfig(f, { missingOk: true }).bots, {});
});

test("loadRuntimeConfig reads INTELMQ_ROOT_DIR/etc/runtime.yaml by default", () => {
  const dir = tmp();
  const f = join(dir, "etc", "runtime.yaml");
  saveRuntimeConfig(parseRuntimeConfig(SAMPLE), f);
  const cfg = loadRuntimeConfig(undefined, { env: { INTELMQ_ROOT_DIR: dir } });
  assert.equal(cfg.file, f);
  assert.equal(cfg.bots["feodo-parser"]!.group, "Parser");
});

test("save keeps comments, writes a .bak and round-trips", () => {
  const f = join(tmp(), "runtime.yaml");
  writeFileSync(f, SAMPLE);
  const cfg = loadRuntimeConfig(f);
  cfg.bots["feodo-parser"]!.enabled = true;
  cfg.bots["feodo-collector"]!.parameters.rate_limit = 60;
  saveRuntimeConfig(cfg);
  assert.equal(readFileSync(`${f}.bak`, "utf8"), SAMPLE);
  const out = readFileSync(f, "utf8");
  assert.match(out, /# our pipeline/);
  assert.match(out, /# the collector/);
  const again = loadRuntimeConfig(f);
  assert.equal(again.bots["feodo-parser"]!.enabled, true);
  assert.equal(again.bots["feodo-collector"]!.parameters.rate_limit, 60);
  assert.deepEqual(again.global, cfg.global);
  delete again.bots["feodo-parser"];
  saveRuntimeConfig(again);
  assert.deepEqual(Object.keys(loadRuntimeConfig(f).bots), ["feodo-collector"]);
});

test("save writes back only what changed: no default keys added, flow lists as they were", () => {
  const f = join(tmp(), "runtime.yaml");
  const text = "global: {}\nb1:\n  module: intelmq.bots.experts.taxonomy.expert\n  parameters:\n    destination_queues:\n      _default: [a-queue, b-queue]\n";
  writeFileSync(f, text);
  const cfg = loadRuntimeConfig(f);
  cfg.bots.b1!.parameters.rate_limit = 5;
  saveRuntimeConfig(cfg);
  assert.equal(readFileSync(f, "utf8"), text.replace("    destination_queues:", "    destination_queues:").replace("[a-queue, b-queue]\n", "[a-queue, b-queue]\n    rate_limit: 5\n"));
});

// IntelMQ's own layout: folded long strings, sequences not indented under their key, comments.
const INTELMQ_STYLE = `# shipped by IntelMQ
cymru-whois-expert:
  bot_id: cymru-whois-expert
  description: Cymru Whois (IP to ASN) is the bot responsible to add network information
    to the events (BGP, ASN, AS Name, Country, etc..).
  enabled: true   # the expert
  group: Expert
  module: intelmq.bots.experts.cymru_whois.expert
  name: Cymru Whois
  parameters:
    destination_queues:
      _default:
      - file-output-queue
  run_mode: continuous
file-output:
  group: Output
  module: intelmq.bots.outputs.file.output
  parameters: {file: '/opt/intelmq/var/lib/bots/file-output/events.txt'}
`;

test("enable/disable change the one value and nothing else of the file; a .bak keeps the previous version", () => {
  const disabled = setBotEnabledText(INTELMQ_STYLE, "cymru-whois-expert", false);
  assert.equal(disabled, INTELMQ_STYLE.replace("enabled: true   # the expert", "enabled: false   # the expert"));
  assert.equal(setBotEnabledText(disabled, "cymru-whois-expert", true), INTELMQ_STYLE);
  // No enabled key: a line of its own, the rest as it was.
  assert.equal(setBotEnabledText(INTELMQ_STYLE, "file-output", false), INTELMQ_STYLE.replace("file-output:\n", "file-output:\n  enabled: false\n"));
  // A flow mapping: through the Document API, comments kept.
  const flow = "# mine\nb1: {module: intelmq.bots.experts.taxonomy.expert}  # one line\n";
  const added = setBotEnabledText(flow, "b1", false);
  assert.equal(parseRuntimeConfig(added).bots.b1!.enabled, false);
  assert.match(added, /# mine/);
  assert.throws(() => setBotEnabledText(INTELMQ_STYLE, "no-such-bot", false), /no-such-bot/);

  const f = join(tmp(), "runtime.yaml");
  writeFileSync(f, INTELMQ_STYLE);
  const cfg = loadRuntimeConfig(f);
  setBotEnabled(cfg, "cymru-whois-expert", false);
  assert.equal(cfg.bots["cymru-whois-expert"]!.enabled, false);
  assert.equal(readFileSync(`${f}.bak`, "utf8"), INTELMQ_STYLE);
  assert.equal(readFileSync(f, "utf8"), disabled);
  assert.equal(loadRuntimeConfig(f).bots["cymru-whois-expert"]!.enabled, false);
});

test("paths under /opt/intelmq that the file outputs take under INTELMQ_ROOT_DIR are named", () => {
  const cfg = parseRuntimeConfig(`${INTELMQ_STYLE}files-output:
  module: intelmq.bots.outputs.files.output
  parameters: {dir: /srv/incoming}
rel-output:
  module: intelmq.bots.outputs.file.output
  parameters: {file: var/lib/out.txt}
`);
  const env = { INTELMQ_ROOT_DIR: "/srv/imq" };
  assert.deepEqual(remappedPaths(cfg, env), [
    { botId: "file-output", parameter: "file", configured: "/opt/intelmq/var/lib/bots/file-output/events.txt", path: "/srv/imq/var/lib/bots/file-output/events.txt", isDefault: false },
    { botId: "files-output", parameter: "tmp", configured: "/opt/intelmq/var/lib/bots/files-output/tmp", path: "/srv/imq/var/lib/bots/files-output/tmp", isDefault: true },
  ]);
  assert.deepEqual(remappedPathLines(cfg, env), [
    "file-output: file /opt/intelmq/var/lib/bots/file-output/events.txt is /srv/imq/var/lib/bots/file-output/events.txt",
    "files-output: tmp /opt/intelmq/var/lib/bots/files-output/tmp (its default) is /srv/imq/var/lib/bots/files-output/tmp",
  ]);
  assert.deepEqual(remappedPaths(parseRuntimeConfig("b:\n  module: intelmq.bots.outputs.file.output\n  parameters: {file: /var/x}\n"), env), []);
});

test("a configuration without bots says so when a bot is asked for", () => {
  for (const text of ["", "# nothing yet\n", "global:\n  logging_level: INFO\n"]) {
    const cfg = parseRuntimeConfig(text, "/etc/r.yaml");
    assert.deepEqual(cfg.bots, {});
    assert.throws(() => getBot(cfg, "x"), /the file has no bots/);
  }
});

test("natsOptions: NATS_URL, else global nats_servers, else the default", () => {
  const cfg = parseRuntimeConfig(SAMPLE);
  // A root without var/run/nats.url, whatever runs on this machine.
  const empty = { INTELMQ_ROOT_DIR: join(tmpdir(), "intelmq-no-such-root") };
  assert.deepEqual(natsOptions(null, empty), { servers: [DEFAULT_NATS_URL], limits: {} });
  assert.equal(DEFAULT_NATS_URL, "nats://127.0.0.1:4222");
  const fromCfg = natsOptions(cfg, {});
  assert.deepEqual(fromCfg.servers, ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]);
  assert.equal(fromCfg.user, "alice");
  assert.equal(fromCfg.pass, "secret");
  const fromEnv = natsOptions(cfg, { NATS_URL: "nats://127.0.0.1:5000, nats://127.0.0.1:5001", NATS_USER: "bob", NATS_TOKEN: "t" });
  assert.deepEqual(fromEnv.servers, ["nats://127.0.0.1:5000", "nats://127.0.0.1:5001"]);
  assert.equal(fromEnv.user, "bob");
  assert.equal(fromEnv.pass, "secret");
  assert.equal(fromEnv.token, "t");
  assert.equal(fromEnv.tls, undefined);
  const tls = natsOptions(parseRuntimeConfig("global:\n  nats_tls: true\n  nats_tls_ca: /ca.pem\n"), {});
  assert.deepEqual(tls.tls, { caFile: "/ca.pem" });
});

test("queueSettings from global queue_* keys", () => {
  const cfg = parseRuntimeConfig("global:\n  queue_max_bytes: 1000000\n  queue_duplicate_window: 120\n  queue_replicas: 3\n  queue_archive: false\n  archive_max_age: 3600\n  archive_max_bytes: 5000000\n");
  assert.deepEqual(queueSettings(cfg), {
    maxBytes: 1000000, duplicateWindowMs: 120000, replicas: 3, archive: false, archiveMaxAgeMs: 3600_000, archiveMaxBytes: 5000000,
  });
  assert.deepEqual(queueSettings(null), {});
});

test("the queues collectors feed are archived whoever creates them first; queue_archive overrides", () => {
  const bots = `
http-collector:
  module: intelmq.bots.collectors.http.collector_http
  parameters:
    destination_queues: {_default: [csv-parser-queue, copy-queue]}
file-collector:
  module: intelmq.bots.collectors.file.collector_file
  parameters:
    destination_queues: [json-parser-queue]
csv-parser:
  module: intelmq.bots.parsers.generic.parser_csv
  parameters:
    destination_queues: [output-queue]
`;
  const cfg = parseRuntimeConfig(bots);
  assert.deepEqual([...collectorQueues(cfg)].sort(), ["copy-queue", "csv-parser-queue", "json-parser-queue"]);
  assert.equal(queueSettingsFor(cfg, "csv-parser-queue").archive, true);
  assert.equal(queueSettingsFor(cfg, "output-queue").archive, undefined);
  const none = parseRuntimeConfig(`global:\n  queue_archive: false\n${bots}`);
  assert.equal(queueSettingsFor(none, "csv-parser-queue").archive, false);
  const all = parseRuntimeConfig(`global:\n  queue_archive: true\n${bots}`);
  assert.equal(queueSettingsFor(all, "output-queue").archive, true);
});
