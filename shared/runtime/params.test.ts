// SPDX-License-Identifier: AGPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { z } from "zod";
import { ErrorCode, hasCode } from "../errors/index.js";
// Direct imports: these parts do not need the message module.
import { p, parserParams, collectorParams } from "./params.js";
import { isGlobalKey, resolveParams, runtimeParamsSchema } from "./runtime-params.js";
import { createLogger, redactParams } from "./logger.js";
import type { BotDefinition, BotKind } from "./types.js";

function defineBot<K extends BotKind, S extends z.ZodType>(def: BotDefinition<K, S>): BotDefinition<K, S> {
  return def;
}

const expert = defineBot({
  kind: "expert", name: "t", intelmq: "x.expert", description: "",
  params: z.object({ overwrite: p.bool().default(false), limit: p.int().default(5), api_token: z.string().nullable().default(null) }).strict(),
  create: () => ({ process: (e) => e }),
});

test("runtime parameters: IntelMQ's defaults", () => {
  const r = resolveParams(expert, "my-bot", {});
  assert.deepEqual(r.runtime, {
    error_procedure: "pass", error_max_retries: 3, error_max_deliveries: 5, error_retry_delay: 15, error_dump_message: true, error_log_message: false,
    error_log_exception: true, rate_limit: 0, run_mode: "continuous", source_queue: "my-bot-queue", destination_queues: {},
    load_balance: false, log_processed_messages_count: 500, log_processed_messages_seconds: 900, logging_level: "INFO",
    batch_size: 1000, testing: false,
  });
  assert.deepEqual(r.bot, { overwrite: false, limit: 5, api_token: null });
  assert.deepEqual(r.unknown, []);
});

test("runtime parameters: strings accepted for numbers and booleans", () => {
  const r = resolveParams(expert, "b", {
    error_max_retries: "7", rate_limit: "86400", load_balance: "true", error_dump_message: "false", overwrite: "true", limit: "9",
    logging_level: "debug", source_queue: "elsewhere",
  });
  assert.equal(r.runtime.error_max_retries, 7);
  assert.equal(r.runtime.rate_limit, 86400);
  assert.equal(r.runtime.load_balance, true);
  assert.equal(r.runtime.error_dump_message, false);
  assert.equal(r.runtime.logging_level, "DEBUG");
  assert.equal(r.runtime.source_queue, "elsewhere");
  assert.deepEqual(r.bot, { overwrite: true, limit: 9, api_token: null });
});

test("destination_queues: a list means _default, a string is split on whitespace", () => {
  const dq = (v: unknown) => resolveParams(expert, "b", { destination_queues: v }).runtime.destination_queues;
  assert.deepEqual(dq(["a", "b"]), { _default: ["a", "b"] });
  assert.deepEqual(dq("a  b\tc"), { _default: ["a", "b", "c"] });
  assert.deepEqual(dq({ _default: "x y", _on_error: ["err"] }), { _default: ["x", "y"], _on_error: ["err"] });
  assert.deepEqual(dq(null), {});
});

test("resolveParams: a bad value names the bot, the parameter and the problem", () => {
  assert.throws(() => resolveParams(expert, "taxonomy-expert", { limit: "many" }), (err: unknown) => {
    assert.ok(hasCode(err, ErrorCode.ConfigurationError));
    const m = (err as Error).message;
    assert.match(m, /taxonomy-expert/);
    assert.match(m, /"limit"/);
    assert.match(m, /number/i);
    return true;
  });
  assert.throws(() => resolveParams(expert, "b1", { error_procedure: "panic" }), /b1.*"error_procedure"/s);
  assert.throws(() => resolveParams(expert, "b1", { error_max_retries: -1 }), /"error_max_retries"/);
});

test("resolveParams: unknown keys are reported, IntelMQ's global keys are not", () => {
  const r = resolveParams(expert, "b", {
    overwrit: true, logging_path: "/var/log", source_pipeline_host: "x", destination_pipeline_port: 1, statistics_host: "h",
    http_timeout_sec: 3, process_manager: "intelmq", module: "m", name: "n", enabled: true, group: "Expert",
  });
  assert.deepEqual(r.unknown, ["overwrit"]);
});

test("resolveParams: parser and collector parameters resolved for their kinds", () => {
  const parser = defineBot({
    kind: "parser", name: "p", intelmq: "x", description: "", params: z.object({ ...parserParams }).strict(),
    create: () => ({ parseLine: () => null }),
  });
  const r = resolveParams(parser, "p", { default_fields: { "protocol.application": "http" }, copy_collector_provided_fields: "extra.file_name, extra.x" });
  assert.deepEqual(r.parser, { default_fields: { "protocol.application": "http" }, copy_collector_provided_fields: ["extra.file_name", "extra.x"] });
  const collector = defineBot({
    kind: "collector", name: "c", intelmq: "x", description: "", params: z.object({ ...collectorParams }).strict(),
    create: () => ({ collect: () => [] }),
  });
  const c = resolveParams(collector, "c", { name: "Feed", accuracy: "50", provider: "P" });
  assert.deepEqual(c.feed, { name: "Feed", accuracy: 50, code: null, provider: "P", documentation: null });
  assert.throws(() => resolveParams(collector, "c", { accuracy: 150 }), /"accuracy"/);
});

test("runtimeParamsSchema is a zod object with every runtime key", () => {
  assert.ok("destination_queues" in runtimeParamsSchema.shape);
  assert.ok("batch_size" in runtimeParamsSchema.shape);
});

function sink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, lines };
}

test("logger: JSON lines, bot_id bound, errors under err, secrets HIDDEN", async () => {
  const { stream, lines } = sink();
  const log = createLogger({ botId: "b-1", level: "DEBUG", destination: stream });
  log.info({ params: { http_password: "s3cret", api_token: "t", name: "x" } }, "configured");
  log.error({ err: new Error("boom") }, "failed");
  log.debug({ password: "p" }, "dbg");
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 3);
  assert.equal(lines[0]!.bot_id, "b-1");
  assert.deepEqual(lines[0]!.params, { http_password: "HIDDEN", api_token: "HIDDEN", name: "x" });
  assert.equal((lines[1]!.err as { message: string }).message, "boom");
  assert.equal(lines[1]!.msg, "failed");
  assert.equal(lines[2]!.password, "HIDDEN");
  assert.ok(!JSON.stringify(lines).includes("s3cret"));
});

test("logger: level WARNING drops info", async () => {
  const { stream, lines } = sink();
  const log = createLogger({ level: "WARNING", destination: stream });
  log.info("no");
  log.warn("yes");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines.map((l) => l.msg), ["yes"]);
});

test("redactParams hides every key containing password or token, nested too", () => {
  assert.deepEqual(
    redactParams({ a: 1, db_password: "x", nested: { Token: "y", list: [{ password: "z" }] }, none_password: null }),
    { a: 1, db_password: "HIDDEN", nested: { Token: "HIDDEN", list: [{ password: "HIDDEN" }] }, none_password: null },
  );
});

test("a bot's runtimeDefaults apply below the configuration", () => {
  const def = { kind: "collector" as const, params: z.object({}), runtimeDefaults: { rate_limit: 3600 } };
  assert.equal(resolveParams(def, "c", {}).runtime.rate_limit, 3600);
  assert.equal(resolveParams(def, "c", { rate_limit: "60" }).runtime.rate_limit, 60);
});

test("runtime parameters take \"\" as the configuration does: false for a boolean, refused for a number", () => {
  // INTELMQ_ERROR_DUMP_MESSAGE= and INTELMQ_RATE_LIMIT= reach the bot as "".
  const r = resolveParams(expert, "b", { error_dump_message: "", load_balance: "", overwrite: "" });
  assert.equal(r.runtime.error_dump_message, false);
  assert.equal(r.runtime.load_balance, false);
  assert.equal(r.bot.overwrite, false);
  assert.throws(() => resolveParams(expert, "b9", { rate_limit: "" }), (err: unknown) => hasCode(err, ErrorCode.ConfigurationError) && /b9.*"rate_limit"/s.test((err as Error).message));
  assert.throws(() => resolveParams(expert, "b9", { limit: "" }), /"limit"/);
});

test("known keys derive from the declarations: ours and IntelMQ's global keys, not near misses of ours", () => {
  for (const k of ["queue_max_bytes", "queue_max_msgs", "nats_servers", "cache_max_bytes", "logging_path", "source_pipeline_port", "destination_pipeline_amqp_exchange",
    "statistics_port", "process_manager", "instances_threads", "http_timeout_sec", "redis_cache_ttl", "accuracy", "instances", "enabled", "bot_id"]) {
    assert.ok(isGlobalKey(k), k);
  }
  for (const k of ["queue_max_byte", "nats_url", "archive", "replicas", "duplicate_window", "dumps_size"]) assert.ok(!isGlobalKey(k), k);
  const r = resolveParams(expert, "b", { queue_max_bytes: 5000, queue_max_msgs: 10, queue_max_byte: 1, logging_path: "/x" });
  assert.deepEqual(r.unknown, ["queue_max_byte"]);
});

test("p.secret marks a parameter whose value is hidden when parameters are logged", async () => {
  const { secretKeys } = await import("../config/index.js");
  const schema = z.object({ api_key: p.secret(p.str().default(null)), http_header: p.secret(z.record(z.string(), z.string()).default({})), user: p.str().default(null) });
  assert.deepEqual(secretKeys(schema).sort(), ["api_key", "http_header"]);
  assert.deepEqual(redactParams({ api_key: "k", http_header: { Authorization: "Bearer x" }, user: "u", db_password: "p" }, secretKeys(schema)),
    { api_key: "HIDDEN", http_header: "HIDDEN", user: "u", db_password: "HIDDEN" });
});
