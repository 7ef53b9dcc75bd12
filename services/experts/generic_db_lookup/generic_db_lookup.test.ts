// SPDX-License-Identifier: AGPL-3.0-only
// Real databases: PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and SQLite files.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import Database from "better-sqlite3";
import { runBot } from "../../../shared/sdk/index.js";
import { tempDir } from "../../../test/helpers/tmp.js";
import bot from "./index.js";

const OBS = "2015-01-01T00:00:00+00:00";
const ev = (fields: Record<string, unknown>) => ({ __type: "Event", "time.observation": OBS, ...fields });
const TABLE = `contacts_${randomBytes(4).toString("hex")}`;
const PG = { engine: "postgresql", host: "127.0.0.1", port: 5432, user: "postgres", password: "", database: "postgres", sslmode: "disable", table: TABLE };

let client: pg.Client;
before(async () => {
  client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await client.connect();
  await client.query(`CREATE TABLE ${TABLE} (asn integer, cc text, contact text, note text)`);
  await client.query(`INSERT INTO ${TABLE} VALUES (64496, 'AT', 'abuse@example.net', 'from the db'), (64497, 'DE', 'cert@example.org', NULL),
    (64498, 'FR', 'a@example.com', 'one'), (64498, 'FR', 'b@example.com', 'two')`);
});
after(async () => {
  await client?.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await client?.end();
});

test("generic_db_lookup (PostgreSQL): the matching row's columns are set; no row, or a missing match field, passes unchanged", async () => {
  const input = [ev({ "source.asn": 64496 }), ev({ "source.asn": 64497, comment: "kept?" }), ev({ "source.asn": 1 }), ev({ "source.ip": "192.0.2.1" })];
  const out = await runBot(bot, { params: PG, input });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [
    ev({ "source.asn": 64496, "source.abuse_contact": "abuse@example.net", comment: "from the db" }),
    // a NULL column removes the field (set with overwrite, as IntelMQ)
    ev({ "source.asn": 64497, "source.abuse_contact": "cert@example.org" }),
    input[2], input[3],
  ]);
});

test("generic_db_lookup (PostgreSQL): several match fields; every target set already skips the lookup unless overwrite", async () => {
  const params = { ...PG, match_fields: '{"source.asn": "asn", "source.geolocation.cc": "cc"}', replace_fields: { contact: "source.abuse_contact" } };
  const out = await runBot(bot, { params, input: [ev({ "source.asn": 64496, "source.geolocation.cc": "AT" }), ev({ "source.asn": 64496, "source.geolocation.cc": "DE" })] });
  assert.equal(out.output._default![0]!["source.abuse_contact"], "abuse@example.net");
  assert.equal(out.output._default![1]!["source.abuse_contact"], undefined);
  const has = [ev({ "source.asn": 64496, "source.geolocation.cc": "AT", "source.abuse_contact": "me@example.com" })];
  assert.equal((await runBot(bot, { params, input: has })).output._default![0]!["source.abuse_contact"], "me@example.com");
  assert.equal((await runBot(bot, { params: { ...params, overwrite: true }, input: has })).output._default![0]!["source.abuse_contact"], "abuse@example.net");
});

test("generic_db_lookup (PostgreSQL): more than one matching row is an error of the message", async () => {
  const out = await runBot(bot, { params: { ...PG, error_max_retries: 0 }, input: [ev({ "source.asn": 64498 })] });
  assert.equal(out.dumped, 1);
  assert.match(out.dumps[0]!.traceback.toString(), /more then one result/);
});

test("generic_db_lookup (PostgreSQL): a server that cannot be reached stops the bot at start; a missing table too", async () => {
  await assert.rejects(runBot(bot, { params: { ...PG, port: 1, connect_timeout: 1 }, input: [] }), /Failed to connect/);
  const out = await runBot(bot, { params: { ...PG, table: "no_such_table_x", error_max_retries: 0 }, input: [ev({ "source.asn": 64496 })] });
  assert.equal(out.dumped, 1);
  assert.match(out.dumps[0]!.traceback.toString(), /does not exist/);
});

test("generic_db_lookup (SQLite): the matching row's columns are set; with several rows the first", async () => {
  const file = join(tempDir("gdl-"), "contacts.db");
  const db = new Database(file);
  db.exec(`CREATE TABLE contacts (asn INTEGER, contact TEXT, note TEXT);
    INSERT INTO contacts VALUES (64496, 'abuse@example.net', 'sqlite'), (64498, 'a@example.com', 'one'), (64498, 'b@example.com', 'two');`);
  db.close();
  const out = await runBot(bot, { params: { engine: "sqlite", database: file }, input: [ev({ "source.asn": 64496 }), ev({ "source.asn": 64498 }), ev({ "source.asn": 5 })] });
  assert.equal(out.dumped, 0);
  assert.deepEqual(out.output._default, [
    ev({ "source.asn": 64496, "source.abuse_contact": "abuse@example.net", comment: "sqlite" }),
    ev({ "source.asn": 64498, "source.abuse_contact": "a@example.com", comment: "one" }),
    ev({ "source.asn": 5 }),
  ]);
  await assert.rejects(runBot(bot, { params: { engine: "sqlite", database: join(tempDir("gdl-"), "missing.db") }, input: [] }), /database/);
});

test("generic_db_lookup: engine is required, as IntelMQ's default is a placeholder", async () => {
  await assert.rejects(runBot(bot, { params: {}, input: [] }), /engine/);
});
