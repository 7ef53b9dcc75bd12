// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The schema download (`intelmq-bot <id> --update-schema`, auto_update) against a loopback HTTP
 * server playing Shadowserver's schema service, and a running bot taking the new schema up.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { stringify } from "yaml";
import { src } from "../../../test/helpers/paths.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { createLibraryBot, runBot } from "../../../shared/sdk/index.js";
import bot, { params as paramSchema } from "./index.js";
import { defaultSchemaPath } from "./schema.js";

delete process.env.INTELMQ_CONFORMANCE_DIR;

const FIXTURES = src("services", "parsers", "shadowserver", "fixtures");
const TEST_SCHEMA = JSON.parse(readFileSync(join(FIXTURES, "shadowserver_test_schema.json"), "utf8")) as Record<string, unknown>;
const SMB = readFileSync(join(FIXTURES, "test_smb.csv"), "utf8");
const HARNESS = { error_max_retries: 0, error_retry_delay: 0, rate_limit: 0 };
const quiet = pino({ level: "silent" });

/** A schema as Shadowserver serves it: versioned, with a report type of our own. */
function served(version: string, feedName = "Custom-Feed"): string {
  return JSON.stringify({
    _meta: { date_created: version, change_log: [`Version ${version}.`] },
    ...TEST_SCHEMA,
    custom_type: {
      feed_name: feedName, file_name: "custom_type", url: "https://example.com/custom",
      constant_fields: { "classification.taxonomy": "other", "classification.type": "other", "classification.identifier": "custom" },
      required_fields: [["time.source", "timestamp", "add_UTC_to_timestamp"], ["source.ip", "ip", "validate_ip"]],
      optional_fields: [["extra.", "note", "validate_to_none"]],
    },
  });
}

/** The loopback server: its answer can be changed; it counts requests. */
async function schemaServer(): Promise<{ url: string; server: Server; answer: { status: number; body: string }; hits: () => number }> {
  const answer = { status: 200, body: served("2024-01-01T00:00:00Z") };
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(req.method === "HEAD" ? undefined : answer.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/intelmq/v1/schema`, server, answer, hits: () => hits };
}

const report = (raw: string, fileName: string) => ({
  __type: "Report", "time.observation": "2024-01-02T00:00:00+00:00", raw: Buffer.from(raw).toString("base64"), "extra.file_name": fileName,
});
const CUSTOM = "timestamp,ip,note\n2024-01-01 10:00:00,192.0.2.7,seen\n";

async function runCommand(root: string, prm: Record<string, unknown>): Promise<number> {
  const command = bot.commands!["update-schema"]!;
  return command.run(paramSchema.parse(prm), { botId: "ss", log: quiet, rootDir: root, stateDir: join(root, "var", "lib", "bots", "ss") });
}

test("--update-schema downloads, checks and swaps the schema; a broken download keeps the old one", async () => {
  const srv = await schemaServer();
  try {
    const root = tempDir("imq-ss-upd-");
    const target = defaultSchemaPath(root);
    assert.equal(await runCommand(root, { schema_url: srv.url }), 0);
    assert.equal(JSON.parse(readFileSync(target, "utf8"))._meta.date_created, "2024-01-01T00:00:00Z");
    assert.equal(existsSync(target + ".bak"), false);

    // the same version again: nothing changes
    assert.equal(await runCommand(root, { schema_url: srv.url }), 0);
    assert.equal(existsSync(target + ".bak"), false);

    srv.answer.body = served("2024-02-01T00:00:00Z");
    assert.equal(await runCommand(root, { schema_url: srv.url }), 0);
    assert.equal(JSON.parse(readFileSync(target, "utf8"))._meta.date_created, "2024-02-01T00:00:00Z");
    assert.equal(JSON.parse(readFileSync(target + ".bak", "utf8"))._meta.date_created, "2024-01-01T00:00:00Z");

    for (const [status, body] of [[200, '{"broken": '], [200, JSON.stringify(TEST_SCHEMA)], [500, served("2024-03-01T00:00:00Z")],
      [200, JSON.stringify({ _meta: { date_created: "2024-04-01" }, bad: { feed_name: "B", file_name: "b", required_fields: "x" } })]] as const) {
      srv.answer.status = status;
      srv.answer.body = body;
      assert.equal(await runCommand(root, { schema_url: srv.url }), 1, body.slice(0, 30));
      assert.equal(JSON.parse(readFileSync(target, "utf8"))._meta.date_created, "2024-02-01T00:00:00Z");
    }

    // schema_file: the download goes there
    srv.answer.status = 200;
    srv.answer.body = served("2024-05-01T00:00:00Z");
    const own = join(tempDir("imq-ss-own-"), "sub", "schema.json");
    assert.equal(await runCommand(root, { schema_url: srv.url, schema_file: own }), 0);
    assert.equal(JSON.parse(readFileSync(own, "utf8"))._meta.date_created, "2024-05-01T00:00:00Z");
  } finally {
    srv.server.close();
  }
});

test("a running bot reads a schema that appeared or changed before its next report", async () => {
  const srv = await schemaServer();
  const root = tempDir("imq-ss-live-");
  const lib = await createLibraryBot(bot, { rootDir: root, params: { ...HARNESS, overwrite: true } });
  try {
    // the shipped schema has no such report type
    let out = await lib.process([report(CUSTOM, "2024-01-01-custom_type-x.csv")]);
    assert.equal(out.dumped, 1);
    assert.equal(await runCommand(root, { schema_url: srv.url }), 0);
    out = await lib.process([report(CUSTOM, "2024-01-01-custom_type-x.csv")]);
    assert.equal(out.dumped, 0);
    assert.deepEqual(out.output._default!.map((e) => [e["feed.name"], e["source.ip"], e["extra.note"], e["feed.documentation"]]),
      [["Custom-Feed", "192.0.2.7", "seen", "https://example.com/custom"]]);
    srv.answer.body = served("2024-06-01T00:00:00Z", "Renamed-Feed");
    assert.equal(await runCommand(root, { schema_url: srv.url }), 0);
    out = await lib.process([report(CUSTOM, "custom_type.csv")]);
    assert.equal(out.output._default![0]!["feed.name"], "Renamed-Feed");
    // a broken file at the schema's place: the bot keeps what it has
    writeFileSync(defaultSchemaPath(root), "{");
    out = await lib.process([report(CUSTOM, "custom_type.csv")]);
    assert.equal(out.output._default![0]!["feed.name"], "Renamed-Feed");
  } finally {
    await lib.shutdown();
    srv.server.close();
  }
});

test("auto_update downloads the schema when the bot starts, at most once an hour", async () => {
  const srv = await schemaServer();
  try {
    const root = tempDir("imq-ss-auto-");
    const prm = { ...HARNESS, auto_update: true, schema_url: srv.url };
    let out = await runBot(bot, { rootDir: root, params: prm, input: [report(CUSTOM, "custom_type.csv")] });
    assert.equal(srv.hits(), 1);
    assert.equal(out.output._default![0]!["feed.name"], "Custom-Feed");
    assert.ok(existsSync(join(root, "var", "lib", "bots", "shadowserver-schema.check")));
    out = await runBot(bot, { rootDir: root, params: prm, input: [report(SMB, "test_smb.csv")] });
    assert.equal(srv.hits(), 1);
    assert.equal(out.output._default!.length, 3);
  } finally {
    srv.server.close();
  }
  // the server gone: the bot starts with the schema it has
  const root = tempDir("imq-ss-auto2-");
  const out = await runBot(bot, { rootDir: root, log: quiet, params: { ...HARNESS, auto_update: true, schema_url: "http://127.0.0.1:1/schema", http_timeout_sec: 5 }, input: [report(SMB, "2024-01-01-scan_smb-x.csv")] });
  assert.equal(out.output._default![0]!["feed.name"], "Accessible-SMB");
});

test("intelmq-bot <id> --update-schema, with the bot's parameters from runtime.yaml", { timeout: 60_000 }, async () => {
  const srv = await schemaServer();
  try {
    const root = tempDir("imq-ss-cli-");
    mkdirSync(join(root, "etc"), { recursive: true });
    copyFileSync(src("etc", "harmonization.conf"), join(root, "etc", "harmonization.conf"));
    writeFileSync(join(root, "etc", "runtime.yaml"), stringify({
      global: { logging_level: "INFO" },
      "shadowserver-parser": { module: "intelmq.bots.parsers.shadowserver.parser", parameters: { schema_url: srv.url } },
      "taxonomy-expert": { module: "intelmq.bots.experts.taxonomy.expert", parameters: {} },
    }));
    const run = (id: string) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, INTELMQ_ROOT_DIR: root, NATS_URL: "nats://127.0.0.1:1" };
      for (const k of Object.keys(env)) if (k.startsWith("INTELMQ_") && k !== "INTELMQ_ROOT_DIR") delete env[k];
      const child = spawn(process.execPath, [src("bin", "intelmq-bot.mjs"), id, "--update-schema", "--verbose"], { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      child.on("close", (code) => resolve({ code, stderr }));
    });
    const ok = await run("shadowserver-parser");
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /New schema version is 2024-01-01T00:00:00Z/);
    assert.equal(JSON.parse(readFileSync(defaultSchemaPath(root), "utf8"))._meta.date_created, "2024-01-01T00:00:00Z");
    const other = await run("taxonomy-expert");
    assert.equal(other.code, 1);
    assert.match(other.stderr, /has no command --update-schema/);
    srv.answer.body = "not json";
    const bad = await run("shadowserver-parser");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not usable/);
  } finally {
    srv.server.close();
  }
});
