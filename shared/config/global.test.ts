// SPDX-License-Identifier: AGPL-3.0-only
/**
 * runtime.yaml's global keys, declared once (global.ts): what derives from the declarations,
 * the one rule for "", the limits of each queue (a bot's parameters, the global ones as their
 * defaults) and the size limits of what the broker creates.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { ErrorCode, hasCode } from "../errors/index.js";
import {
  OWN_GLOBAL_KEYS, brokerLimits, checkGlobal, effectiveParams, envParams, globalSettings, isIntelmqGlobalKey, isOwnGlobalKey, natsOptions,
  ownGlobalSchema, p, parseRuntimeConfig, queueLimitsFor, queueSettingsFor, sourceQueueOf,
} from "./index.js";

test("our global keys: the list, the typed settings and the validation come from one schema", () => {
  assert.deepEqual([...OWN_GLOBAL_KEYS].sort(), Object.keys(ownGlobalSchema.shape).sort());
  for (const k of ["nats_servers", "queue_max_bytes", "queue_max_msgs", "queue_ack_wait", "dumps_max_bytes", "logs_max_bytes", "large_max_bytes",
    "archive_large_max_bytes", "status_max_bytes", "deliveries_max_bytes", "cache_max_bytes", "intelmqctl_control_wait"]) {
    assert.ok(isOwnGlobalKey(k), k);
    assert.ok((ownGlobalSchema.shape as Record<string, z.ZodType>)[k]!.description, `${k} says what it is`);
  }
  const cfg = parseRuntimeConfig("global:\n  queue_max_bytes: '2000000'\n  queue_max_msgs: 50\n  nats_tls: 'yes'\n  queue_ack_wait: '2.5'\n");
  const g = globalSettings(cfg.global);
  assert.equal(g.queue_max_bytes, 2_000_000);
  assert.equal(g.queue_max_msgs, 50);
  assert.equal(g.nats_tls, true);
  assert.equal(g.queue_ack_wait, 2.5);
  // The file keeps what was written (saving writes it back as it was).
  assert.equal(cfg.global.queue_max_bytes, "2000000");
  // A wrong value of ours refuses the file, naming the key.
  for (const [text, key] of [["queue_max_msgs: 0", "queue_max_msgs"], ["dumps_max_bytes: lots", "dumps_max_bytes"], ["queue_ack_wait: -1", "queue_ack_wait"]]) {
    assert.throws(() => parseRuntimeConfig(`global:\n  ${text}\n`, "/etc/r.yaml"), (err: unknown) => {
      assert.ok(hasCode(err, ErrorCode.ConfigurationError));
      assert.match((err as Error).message, new RegExp(`global.*${key}`));
      return true;
    });
  }
  assert.equal(parseRuntimeConfig("global:\n  queue_max_msgs: -1\n").global.queue_max_msgs, -1, "-1 is no limit");
});

test("IntelMQ's own global keys load unchanged; check warns of a wrong one and of a typo of ours", () => {
  const intelmq = {
    logging_handler: "file", logging_level: "INFO", logging_path: "/opt/intelmq/var/log/", logging_syslog: "/dev/log", logging_max_size: 0, logging_max_copies: null,
    source_pipeline_broker: "redis", source_pipeline_host: "127.0.0.1", source_pipeline_port: 6379, source_pipeline_db: 2, source_pipeline_password: null,
    destination_pipeline_broker: "redis", destination_pipeline_host: "127.0.0.1", destination_pipeline_port: 6379, destination_pipeline_db: 2,
    statistics_host: "127.0.0.1", statistics_port: 6379, statistics_database: 3, statistics_password: null, process_manager: "intelmq",
    http_proxy: null, https_proxy: null, http_timeout_sec: 30, http_user_agent: "UA", http_verify_cert: true, redis_cache_host: "127.0.0.1",
    error_procedure: "pass", error_max_retries: 3, rate_limit: 0, ssl_ca_certificate: null, intelmqctl_check_orphaned_queues_ignore: ["x"],
    // A key of an IntelMQ family this file does not declare one by one.
    source_pipeline_amqp_something_new: 1,
  };
  const cfg = parseRuntimeConfig(JSON.stringify({ global: intelmq, b: { module: "intelmq.bots.experts.taxonomy.expert" } }));
  assert.deepEqual(cfg.global, intelmq);
  for (const k of Object.keys(intelmq)) if (!k.startsWith("error_") && k !== "rate_limit" && !k.startsWith("http") && !k.startsWith("ssl")) assert.ok(isIntelmqGlobalKey(k), k);
  // IntelMQ's keys are the bots' (IntelMQ's precedence), ours are not.
  const withOurs = parseRuntimeConfig(JSON.stringify({ global: { ...intelmq, queue_max_bytes: 5000, nats_user: "u" }, b: { module: "m.expert" } }));
  const eff = effectiveParams(withOurs, "b", {});
  assert.equal(eff.logging_path, "/opt/intelmq/var/log/");
  assert.equal(eff.queue_max_bytes, undefined);
  assert.equal(eff.nats_user, undefined);

  const known = () => false;
  assert.deepEqual(checkGlobal(intelmq, known), []);
  const lines = checkGlobal({ statistics_port: "redis", queue_max_byte: 5 }, known);
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.match(lines[0]!, /statistics_port/);
  assert.match(lines[1]!, /unknown key "queue_max_byte".*queue_max_bytes/);
  assert.deepEqual(checkGlobal({ queue_max_byte: 5 }, (k) => k === "queue_max_byte"), [], "a key some bot declares is no typo");
});

test("one rule for \"\": a boolean is false, a number is refused, a list is empty", () => {
  assert.equal(p.bool().parse(""), false);
  assert.equal(p.bool().parse(" TRUE "), true);
  assert.equal(p.bool().parse("no"), false);
  assert.equal(p.bool().parse(0), false);
  assert.equal(p.int().parse(" 42 "), 42);
  assert.equal(p.int().safeParse("").success, false);
  assert.equal(p.number().safeParse("   ").success, false);
  assert.equal(p.number().safeParse(null).success, false, "null is no number either");
  assert.deepEqual(p.list().parse(""), []);
  assert.deepEqual(p.list().parse(" a, ,b "), ["a", "b"]);
  assert.equal(p.text().parse(5), "5");
  // runtime.yaml uses the same coercions: the system key `enabled: ""` is false...
  assert.equal(parseRuntimeConfig("b:\n  module: m.expert\n  enabled: ''\n").bots.b!.enabled, false);
  assert.equal(parseRuntimeConfig("global:\n  nats_tls: ''\n").global.nats_tls, "");
  assert.equal(globalSettings(parseRuntimeConfig("global:\n  nats_tls: ''\n").global).nats_tls, false);
  // ...and a number of ours given as "" refuses the file with the key's name.
  assert.throws(() => parseRuntimeConfig("global:\n  queue_max_bytes: ''\n"), /queue_max_bytes/);
  assert.throws(() => parseRuntimeConfig("b:\n  module: m.expert\n  instances: ''\n"), /instances/);
  // An environment variable set to "" reaches the bot as "" (IntelMQ converts only True, False and digits).
  assert.deepEqual(envParams({ INTELMQ_RATE_LIMIT: "", INTELMQ_LOAD_BALANCE: "True", INTELMQ_ERROR_MAX_RETRIES: "7" }), { rate_limit: "", load_balance: true, error_max_retries: 7 });
});

const BOTS = `
global:
  queue_max_bytes: 1000000
  queue_max_msgs: 100
feed-collector:
  module: intelmq.bots.collectors.file.collector_file
  parameters:
    queue_max_msgs: 3
    destination_queues: [small-queue]
small:
  module: intelmq.bots.parsers.json.parser
  parameters:
    queue_max_bytes: 20000
    queue_max_msgs: 10
    destination_queues: [big-queue]
big:
  module: intelmq.bots.experts.taxonomy.expert
  parameters:
    destination_queues: [shared-queue]
reader-a:
  module: intelmq.bots.outputs.file.output
  parameters:
    source_queue: shared-queue
    queue_max_msgs: 40
reader-b:
  module: intelmq.bots.outputs.file.output
  parameters:
    source_queue: shared-queue
    queue_max_bytes: 5000
`;

test("each queue's limits: its reader's parameters, the global ones as defaults, the smallest of readers sharing it", () => {
  const cfg = parseRuntimeConfig(BOTS);
  assert.equal(sourceQueueOf(cfg, "feed-collector"), null);
  assert.equal(sourceQueueOf(cfg, "small"), "small-queue");
  assert.equal(sourceQueueOf(cfg, "reader-a"), "shared-queue");
  assert.deepEqual(queueLimitsFor(cfg, "small-queue"), { maxBytes: 20000, maxMsgs: 10 }, "a collector's own limits limit nothing");
  assert.deepEqual(queueLimitsFor(cfg, "big-queue"), { maxBytes: 1_000_000, maxMsgs: 100 });
  assert.deepEqual(queueLimitsFor(cfg, "shared-queue"), { maxBytes: 5000, maxMsgs: 40 });
  assert.deepEqual(queueLimitsFor(cfg, "nobody-reads-queue"), { maxBytes: 1_000_000, maxMsgs: 100 });
  // The settings every bot and tool ensures a queue with: the same, whoever ensures it.
  const s = queueSettingsFor(cfg, "small-queue");
  assert.equal(s.maxBytes, 20000);
  assert.equal(s.maxMsgs, 10);
  assert.equal(s.archive, true, "a queue collectors feed is archived");
  // Without global limits: only what the reader sets.
  const bare = parseRuntimeConfig("q:\n  module: intelmq.bots.experts.taxonomy.expert\n  parameters:\n    queue_max_msgs: '7'\n");
  assert.deepEqual(queueLimitsFor(bare, "q-queue"), { maxMsgs: 7 });
  assert.deepEqual(queueLimitsFor(parseRuntimeConfig("q:\n  module: m.expert\n"), "q-queue"), {});
  // The bot sees them as parameters it need not declare (they are no unknown keys).
  assert.equal(effectiveParams(cfg, "small", {}).queue_max_bytes, 20000);
  // A wrong per-bot limit refuses the file, naming the bot and the key.
  assert.throws(() => parseRuntimeConfig("q:\n  module: m.expert\n  parameters:\n    queue_max_bytes: -5\n", "/etc/r.yaml"),
    (err: unknown) => hasCode(err, ErrorCode.ConfigurationError) && /bot "q".*queue_max_bytes/.test((err as Error).message));
});

test("the size limits of dumps, logs, object stores and buckets come from global keys; unset ones are the broker's defaults", () => {
  assert.deepEqual(brokerLimits(parseRuntimeConfig("")), {});
  const cfg = parseRuntimeConfig(`global:
  dumps_max_bytes: 1000
  dumps_large_max_bytes: 2000
  logs_max_bytes: 3000
  large_max_bytes: 4000
  archive_max_bytes: 5000
  status_max_bytes: 6000
  deliveries_max_bytes: 7000
  cache_max_bytes: 8000
`);
  const all = {
    dumpsMaxBytes: 1000, dumpsLargeMaxBytes: 2000, logsMaxBytes: 3000, largeMaxBytes: 4000, archiveLargeMaxBytes: 5000,
    statusMaxBytes: 6000, deliveriesMaxBytes: 7000, cacheMaxBytes: 8000,
  };
  assert.deepEqual(brokerLimits(cfg), all, "the archive's payloads default to archive_max_bytes");
  assert.equal(brokerLimits(parseRuntimeConfig("global:\n  archive_max_bytes: 5000\n  archive_large_max_bytes: 900\n")).archiveLargeMaxBytes, 900);
  // Every tool connects with them.
  assert.deepEqual(natsOptions(cfg, { NATS_URL: "nats://127.0.0.1:1" }).limits, all);
});
