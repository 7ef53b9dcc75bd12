// SPDX-License-Identifier: AGPL-3.0-only
// intelmq_psql_initdb: the eventdb table of etc/harmonization.conf as IntelMQ makes it, created in a real PostgreSQL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eventColumns, generateInitdb } from "./initdb.js";
import { pgClient } from "../../../test/helpers/sql.js";
import { src } from "../../../test/helpers/paths.js";
import { tempDir } from "../../../test/helpers/tmp.js";

const HARMONIZATION = JSON.parse(readFileSync(src("etc/harmonization.conf"), "utf8")) as { event: Record<string, { type: string; length?: number }> };
const EXPECTED = readFileSync(src("services/outputs/sql/fixtures/events-columns.tsv"), "utf8").split("\n")
  .filter((l) => l && !l.startsWith("#")).map((l) => l.split("\t") as [string, string]);
const SIMPLE = { event: { "classification.identifier": { type: "String" }, "time.source": { type: "DateTime" }, raw: { type: "Base64" } } };

test("the columns of etc/harmonization.conf are IntelMQ's, in its order", () => {
  assert.deepEqual([["id", "BIGSERIAL UNIQUE PRIMARY KEY"], ...eventColumns(HARMONIZATION.event)], EXPECTED);
  const sql = generateInitdb(HARMONIZATION);
  const body = EXPECTED.map(([k, t]) => `    "${k}" ${t}`).join(",\n");
  assert.ok(sql.startsWith(`CREATE TABLE events (\n${body}\n);\nCREATE INDEX "idx_events_classification.identifier" ON events USING btree ("classification.identifier");\n`));
  assert.equal(sql.match(/^CREATE INDEX /gm)?.length, 11);
});

test("IntelMQ's options: separate raws, partition key, skip or replace, jsonb, no events", () => {
  const sep = generateInitdb(SIMPLE, { separateRaws: true });
  assert.match(sep, /CREATE TABLE public\.raws \(\n {4}event_id bigint,\n {4}raw text,\n {4}PRIMARY KEY\(event_id\),\n {4}CONSTRAINT raws_event_id_fkey/);
  assert.match(sep, /CREATE VIEW public\.v_events AS\n {4}SELECT\n {8}events\.id,\n {8}events\."classification\.identifier",\n {8}events\."time\.source",\n {8}raws\."event_id",/);
  assert.match(sep, /INSERT INTO\n {12}events \(\n {16}"classification\.identifier",\n {16}"time\.source"\n {12}\)/);
  assert.match(sep, /\nCREATE TRIGGER tr_events\n {4}INSTEAD OF INSERT\n/);
  const part = generateInitdb(SIMPLE, { separateRaws: true, partitionKey: "time.source" });
  assert.match(part, /"id" BIGSERIAL,\n {4}"classification\.identifier" text,\n {4}"raw" text,\n {4}"time\.source" timestamp with time zone,\n {4}PRIMARY KEY \("id", "time\.source"\)\n\);/);
  assert.doesNotMatch(part, /raws_event_id_fkey/);
  const skip = generateInitdb(SIMPLE, { separateRaws: true, skipOrReplace: true });
  for (const s of ["CREATE TABLE IF NOT EXISTS public.raws", "CREATE TABLE IF NOT EXISTS events", 'CREATE INDEX IF NOT EXISTS "idx_events_classification.identifier"',
    "CREATE OR REPLACE TRIGGER tr_events", "CREATE OR REPLACE FUNCTION public.process_v_events_insert()", "CREATE OR REPLACE VIEW public.v_events"]) assert.ok(skip.includes(s), s);
  assert.doesNotMatch(generateInitdb(SIMPLE, { skipEvents: true }), /CREATE (TABLE events|INDEX)/);
  assert.match(generateInitdb(HARMONIZATION, { jsonb: true }), /"extra" jsonb,/);
  assert.throws(() => generateInitdb({ event: { x: { type: "Nope" } } }), /Unknown type "Nope"/);
});

test("the command writes the file (a new one when it exists) and standard output", () => {
  const dir = tempDir("initdb-");
  const out = join(dir, "initdb.sql");
  const run = (...args: string[]) => spawnSync(process.execPath, [src("bin/intelmq_psql_initdb.mjs"), "--harmonization", src("etc/harmonization.conf"), ...args], { encoding: "utf8" });
  const a = run("-o", out);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(readFileSync(out, "utf8"), generateInitdb(HARMONIZATION));
  const b = run("-o", out);
  const other = /INFO - Writing (\S+) file/.exec(b.stderr)?.[1];
  assert.ok(other && other !== out, b.stderr);
  assert.equal(readFileSync(other, "utf8"), generateInitdb(HARMONIZATION));
  const c = run("-o", "-", "--separate-raws");
  assert.equal(c.stdout, generateInitdb(HARMONIZATION, { separateRaws: true }));
  assert.equal(run("--harmonization", join(dir, "missing.conf"), "-o", "-").status, 2);
});

test("created in PostgreSQL: every column with its type, the indexes, the raws view inserting through its trigger", async () => {
  const c = await pgClient();
  const schema = `initdb_${process.pid}`;
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
    // the raws part names public.*: it is tried on the plain table only here, then in a schema of its own below
    await c.query(generateInitdb(HARMONIZATION));
    const cols = await c.query(`SELECT column_name, data_type, character_maximum_length FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position`, [schema]);
    const pgName: Record<string, string> = { text: "text", inet: "inet", "timestamp with time zone": "timestamp with time zone", integer: "integer", real: "real", boolean: "boolean", json: "json", UUID: "uuid" };
    const want = EXPECTED.slice(1).map(([k, t]) => {
      const m = /^varchar\((\d+)\)$/.exec(t);
      return [k, m ? "character varying" : pgName[t], m ? Number(m[1]) : null];
    });
    assert.deepEqual(cols.rows.map((r) => [r.column_name, r.data_type, r.character_maximum_length]), [["id", "bigint", null], ...want]);
    const idx = await c.query("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events' ORDER BY indexname", [schema]);
    assert.equal(idx.rows.filter((r) => String(r.indexname).startsWith("idx_events_")).length, 11);
    await c.query(`INSERT INTO events ("source.ip", "time.source", "extra", "classification.taxonomy") VALUES ('192.0.2.1', '2024-09-01T05:06:07+00:00', '{"a": 1}', 'malicious-code')`);
    assert.equal((await c.query("SELECT count(*)::int AS n FROM events")).rows[0].n, 1);
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
});
