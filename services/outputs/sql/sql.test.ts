// SPDX-License-Identifier: AGPL-3.0-only
// The SQL output on real PostgreSQL, MariaDB and SQLite databases, through the runtime in library mode.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { pino } from "pino";
import type pg from "pg";
import type mysql from "mysql2/promise";
import { ErrorCode, Event, createLibraryBot, runBot, type BotContext } from "../../../shared/sdk/index.js";
import { loadHarmonization } from "../../../shared/harmonization/index.js";
import bot from "./index.js";
import { generateInitdb } from "./initdb.js";
import { classify } from "./engines.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import { mysqlAdmin, mysqlParams, pgClient, pgParams } from "../../../test/helpers/sql.js";
import { src } from "../../../test/helpers/paths.js";

const HARNESS = { error_max_retries: 0, error_retry_delay: 0 };
const INPUT1 = { __type: "Event", "classification.identifier": "zeus", "classification.type": "infected-system", "source.asn": 64496, "source.ip": "192.0.2.1", "feed.name": "Example Feed" };
const INPUT_EXTRA = { __type: "Event", "classification.type": "vulnerable-system", "extra.asn": 64496, "extra.ip": "192.0.2.1" };
const INPUT_NULL = { __type: "Event", "classification.type": "undetermined", "extra.payload": '{"text": "M41\u0012)3U>\bxӾ6\u0000\u0013M6"}' };
const HARMONIZATION = JSON.parse(readFileSync(src("etc/harmonization.conf"), "utf8")) as { event: Record<string, { type: string; length?: number }> };
/** Runs the bot; its log lines as text. */
async function logged(params: Record<string, unknown>, input: unknown[]): Promise<{ dumped: number; log: string }> {
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => { lines.push(s); } });
  const out = await runBot(bot, { log, params, input });
  return { dumped: out.dumped, log: lines.join("") };
}
/** The output as the runtime drives it: the same input exported and flushed twice (a crash after its COMMIT, before its ack), then another input. */
async function flushTwiceThenAnother(params: Record<string, unknown>): Promise<void> {
  const ctx = { botId: "sql-out", log: pino({ level: "silent" }), harmonization: loadHarmonization(), rootDir: "/", stateDir: "/" } as unknown as BotContext;
  const prm = bot.params.parse(params);
  const input = { key: `q:${Date.now()}:${Math.random()}`, queue: "q", seq: 1 };
  for (const key of [input.key, input.key, `${input.key}x`]) {
    const impl = await bot.create(prm, ctx);
    await impl.export(new Event({ "source.ip": "192.0.2.7", "source.port": 7 }));
    await impl.export(new Event({ "source.ip": "192.0.2.8", "source.port": 8 }));
    await impl.flush!({ ...input, key });
    await impl.shutdown?.();
  }
}
const uniq = (p: string) => `${p}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;

/** The eventdb table of intelmq_psql_initdb, under another name. */
function eventsDdl(table: string): string {
  return generateInitdb(HARMONIZATION).replace(/^CREATE TABLE events/m, `CREATE TABLE ${table}`)
    .replace(/CREATE INDEX "idx_events_([^"]+)" ON events/g, `CREATE INDEX "idx_${table}_$1" ON ${table}`);
}

describe("PostgreSQL", () => {
  let c: pg.Client;
  const table = uniq("events");
  before(async () => {
    c = await pgClient();
    await c.query(eventsDdl(table));
  });
  after(async () => {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
    await c.end();
  });

  test("IntelMQ's cases: an event, extra as one json column, a JSON-escaped NUL in extra", async () => {
    const out = await runBot(bot, { params: { ...HARNESS, ...pgParams(table) }, input: [INPUT1, INPUT_EXTRA, INPUT_NULL] });
    assert.equal(out.dumped, 0);
    const r = await c.query(`SELECT "classification.identifier", "classification.type", "source.asn", "source.ip", "feed.name" FROM ${table} WHERE "source.asn" = 64496`);
    assert.deepEqual(r.rows, [{ "classification.identifier": "zeus", "classification.type": "infected-system", "source.asn": 64496, "source.ip": "192.0.2.1", "feed.name": "Example Feed" }]);
    const extra = await c.query(`SELECT "extra" FROM ${table} WHERE "classification.type" = 'vulnerable-system'`);
    assert.deepEqual(extra.rows[0].extra, { asn: 64496, ip: "192.0.2.1" });
    const nul = await c.query(`SELECT "extra" FROM ${table} WHERE "classification.type" = 'undetermined'`);
    assert.deepEqual(nul.rows[0].extra, { payload: '{"text": "M41\u0012)3U>\bxӾ6\\u0000\u0013M6"}' });
  });

  test("fields restricts the columns; time fields arrive as timestamps", async () => {
    const t = uniq("few");
    await c.query(`CREATE TABLE ${t} ("source.ip" inet, "time.source" timestamptz, "id" bigserial primary key)`);
    try {
      await runBot(bot, { params: { ...HARNESS, ...pgParams(t), fields: "source.ip,time.source,source.fqdn" }, input: [{ ...INPUT1, "time.source": "2024-09-01T05:06:07+00:00" }] });
      const r = await c.query(`SELECT "source.ip", "time.source" FROM ${t}`);
      assert.equal(r.rows.length, 1);
      assert.equal(r.rows[0]["source.ip"], "192.0.2.1");
      assert.equal((r.rows[0]["time.source"] as Date).toISOString(), "2024-09-01T05:06:07.000Z");
    } finally {
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("an input that comes again after its COMMIT (its acknowledgement lost) is not inserted again; another input is", async () => {
    const t = uniq("redeliver");
    await c.query(`CREATE TABLE ${t} ("source.ip" inet, "source.port" integer)`);
    try {
      await flushTwiceThenAnother(pgParams(t));
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, 4);
    } finally {
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("a user that may not create tables writes when the key table exists (PostgreSQL 15's public schema)", async () => {
    const t = uniq("limited");
    const role = "intelmq_nats_limited";
    await c.query(`CREATE TABLE ${t} ("source.ip" inet)`);
    await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN PASSWORD 'limited'; END IF; END $$`);
    await c.query("CREATE TABLE IF NOT EXISTS intelmq_output_inputs (input_key VARCHAR(191) NOT NULL PRIMARY KEY, written_at BIGINT NOT NULL)");
    await c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC, ${role}`);
    await c.query(`GRANT SELECT, INSERT ON ${t} TO ${role}; GRANT SELECT, INSERT, DELETE ON intelmq_output_inputs TO ${role}`);
    try {
      const out = await runBot(bot, { params: { ...HARNESS, ...pgParams(t), user: role, password: "limited" }, input: [{ __type: "Event", "source.ip": "192.0.2.1" }] });
      assert.equal(out.dumped, 0);
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, 1);
    } finally {
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("a missing column is the message's failure: dumped after its retries, the transaction rolled back", async () => {
    const t = uniq("nocol");
    await c.query(`CREATE TABLE ${t} ("source.ip" inet)`);
    try {
      const out = await runBot(bot, { params: { ...HARNESS, ...pgParams(t) }, input: [{ __type: "Event", "source.ip": "192.0.2.1", "source.port": 1 }] });
      assert.equal(out.dumped, 1);
      assert.match(JSON.stringify(out.dumps[0]!.traceback), /source\.port/);
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, 0);
    } finally {
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("a wrong password stops the bot (configuration); an unreachable server is a connection failure", async () => {
    const out = await logged({ ...HARNESS, ...pgParams(table), user: "no_such_user_x", password: "x" }, [INPUT1]);
    assert.equal(out.dumped, 0);
    assert.match(out.log, /ConfigurationError.*no_such_user_x[^]*Bot stopped/);
    assert.equal(classify("postgresql", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })), "connection");
    assert.equal(classify("postgresql", Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })), "connection");
    assert.equal(classify("postgresql", Object.assign(new Error("column does not exist"), { code: "42703" })), "statement");
  });

  test("fail_on_errors: an unreachable server fails the message (dumped after its retries)", async () => {
    const out = await runBot(bot, { params: { ...HARNESS, ...pgParams(table), port: 1, fail_on_errors: true }, input: [INPUT1] });
    assert.equal(out.dumped, 1);
    assert.match(JSON.stringify(out.dumps[0]!.traceback), /ECONNREFUSED/);
  });
});

describe("MariaDB", () => {
  let c: mysql.Connection;
  const table = uniq("events");
  before(async () => {
    c = await mysqlAdmin();
    await c.query(`CREATE TABLE ${table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, \`classification.identifier\` TEXT, \`classification.type\` TEXT,
      \`source.asn\` INT, \`source.ip\` VARCHAR(45), \`feed.name\` TEXT, \`time.source\` DATETIME(6), \`extra\` JSON, \`source.tor_node\` BOOLEAN)`);
  });
  after(async () => {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
    await c.end();
  });

  test("events with times (UTC DATETIME), booleans and extra", async () => {
    const b = await createLibraryBot(bot, { params: { ...HARNESS, ...mysqlParams(table) } });
    try {
      const out = await b.process([{ ...INPUT1, "time.source": "2024-09-01T05:06:07.123+00:00", "source.tor_node": true }, INPUT_EXTRA]);
      assert.equal(out.dumped, 0);
    } finally {
      await b.shutdown();
    }
    const [rows] = await c.query(`SELECT \`classification.identifier\` AS ci, \`source.asn\` AS asn, \`time.source\` AS ts, \`source.tor_node\` AS tor, extra FROM ${table} ORDER BY id`);
    const r = rows as Record<string, unknown>[];
    assert.equal(r.length, 2);
    assert.deepEqual(r[0], { ci: "zeus", asn: 64496, ts: "2024-09-01 05:06:07.123000", tor: 1, extra: null });
    const extra = r[1]!.extra;
    assert.deepEqual(typeof extra === "string" ? JSON.parse(extra) : extra, { asn: 64496, ip: "192.0.2.1" });
  });

  test("an input that comes again after its COMMIT is not inserted again", async () => {
    const t = uniq("redeliver");
    await c.query(`CREATE TABLE ${t} (\`source.ip\` VARCHAR(45), \`source.port\` INT)`);
    try {
      await flushTwiceThenAnother(mysqlParams(t));
      assert.deepEqual((await c.query(`SELECT count(*) AS n FROM ${t}`))[0], [{ n: 4 }]);
    } finally {
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("an input larger than max_allowed_packet goes in several statements of one transaction", async () => {
    const t = uniq("big");
    await c.query(`CREATE TABLE ${t} (\`source.ip\` VARCHAR(45), \`raw\` LONGTEXT)`);
    const ctx = { botId: "sql-out", log: pino({ level: "silent" }), harmonization: loadHarmonization(), rootDir: "/", stateDir: "/" } as unknown as BotContext;
    const impl = await bot.create(bot.params.parse(mysqlParams(t)), ctx);
    try {
      const raw = Buffer.alloc(450_000, "x").toString("base64");
      for (let i = 0; i < 40; i++) await impl.export(new Event({ "source.ip": `192.0.2.${i + 1}`, raw }));
      await impl.flush!({ key: `big:${Date.now()}`, queue: "big", seq: 1 });
      assert.deepEqual((await c.query(`SELECT count(*) AS n, sum(length(raw)) AS l FROM ${t}`))[0], [{ n: 40, l: String(40 * raw.length) }]);
    } finally {
      await impl.shutdown?.();
      await c.query(`DROP TABLE ${t}`);
    }
  });

  test("engine mysql is the same engine; a wrong password stops the bot", async () => {
    const out = await logged({ ...HARNESS, ...mysqlParams(table), engine: "mysql", password: "wrong" }, [INPUT1]);
    assert.equal(out.dumped, 0);
    assert.match(out.log, /ConfigurationError.*Access denied[^]*Bot stopped/);
    assert.equal(classify("mysql", Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true })), "connection");
  });
});

describe("SQLite", () => {
  test("rows in the file; the key table; an unknown column is dumped", async () => {
    const file = join(tempDir("sql-sqlite-"), "events.sqlite");
    const setup = new Database(file);
    setup.exec(`CREATE TABLE events ("classification.identifier" TEXT, "classification.type" TEXT, "source.asn" INTEGER, "source.ip" TEXT, "feed.name" TEXT, "extra" TEXT)`);
    setup.close();
    const out = await runBot(bot, { params: { ...HARNESS, engine: "sqlite", database: file }, input: [INPUT1, INPUT_EXTRA, { __type: "Event", "source.port": 80 }] });
    assert.equal(out.dumped, 1);
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare(`SELECT "classification.identifier" AS ci, "source.asn" AS asn, extra FROM events ORDER BY rowid`).all() as Record<string, unknown>[];
      assert.deepEqual(rows.map((r) => r.ci), ["zeus", null]);
      assert.equal(rows[0]!.asn, 64496);
      assert.deepEqual(JSON.parse(String(rows[1]!.extra)), { asn: 64496, ip: "192.0.2.1" });
      assert.equal((db.prepare("SELECT count(*) AS n FROM intelmq_output_inputs").get() as { n: number }).n, 2);
    } finally {
      db.close();
    }
  });

  test("jsondict_as_string false: a column per extra key; inputs_table false: none made", async () => {
    const file = join(tempDir("sql-sqlite-"), "e.sqlite");
    const setup = new Database(file);
    setup.exec(`CREATE TABLE t ("classification.type" TEXT, "extra.asn" INTEGER, "extra.ip" TEXT)`);
    setup.close();
    await runBot(bot, { params: { ...HARNESS, engine: "sqlite", database: file, table: "t", jsondict_as_string: false, inputs_table: false }, input: [INPUT_EXTRA] });
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare(`SELECT * FROM t`).all(), [{ "classification.type": "vulnerable-system", "extra.asn": 64496, "extra.ip": "192.0.2.1" }]);
      assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'intelmq_output_inputs'").get(), undefined);
    } finally {
      db.close();
    }
  });

  test("an input that comes again after its COMMIT is not inserted again", async () => {
    const file = join(tempDir("sql-sqlite-"), "r.sqlite");
    const setup = new Database(file);
    setup.exec(`CREATE TABLE events ("source.ip" TEXT, "source.port" INTEGER)`);
    setup.close();
    await flushTwiceThenAnother({ engine: "sqlite", database: file });
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare("SELECT count(*) AS n FROM events").get(), { n: 4 });
    } finally {
      db.close();
    }
  });

  test("mssql is refused as a configuration error", async () => {
    await assert.rejects(createLibraryBot(bot, { params: { engine: "mssql" } }), { code: ErrorCode.ConfigurationError });
  });
});
