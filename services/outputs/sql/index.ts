// SPDX-License-Identifier: AGPL-3.0-only
/**
 * SQL output (IntelMQ's intelmq.bots.outputs.sql.output): one row per event in a table of
 * PostgreSQL, SQLite or MySQL/MariaDB, the columns named as the event's keys.
 *
 * Unlike IntelMQ (one INSERT and COMMIT per event), the events of an input are inserted in
 * flush(), in one transaction, and the input is acknowledged only after its COMMIT. In the same
 * transaction the input's key goes into a small bookkeeping table (`inputs_table`): an input
 * whose rows were committed but whose acknowledgement was lost (a crash, a broker restart) finds
 * its key there when it comes again and is not inserted twice.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  ConfigurationError, PeerUnavailableError, defineBot, errorMessage, outputPath, p,
  type BotContext, type Event, type InputRef, type OutputImpl,
} from "../../../shared/sdk/index.js";
import { classify, connect, type EngineName, type SqlConnection } from "./engines.js";

export const params = z.object({
  engine: z.enum(["postgresql", "sqlite", "mysql", "mariadb", "mssql"])
    .describe("Database engine: postgresql, sqlite, or (ours) mysql / mariadb; IntelMQ's mssql is not supported"),
  host: z.string().default("localhost").describe("Database server (PostgreSQL, MySQL)"),
  port: p.int().nullable().default(null).describe("Server port; unset: 5432 for PostgreSQL, 3306 for MySQL/MariaDB"),
  database: z.string().default("intelmq-events").describe("Database name; for SQLite the database file (/opt/intelmq/ at its start means the project's root)"),
  user: z.string().default("intelmq").describe("Database user"),
  password: p.secret(z.string().nullable().default(null)).describe("Database password"),
  sslmode: z.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]).default("require")
    .describe("TLS to the server, as libpq's sslmode (MySQL: disable/allow/prefer mean no TLS)"),
  table: z.string().default("events").describe("Table the events are inserted into (not quoted: schema.table works)"),
  fields: p.list().nullable().default(null).describe("Only these fields (those the event has) become columns; unset: all fields of the event"),
  jsondict_as_string: p.bool().default(true).describe("Write JSON-dict fields (extra.*) as one JSON text column `extra`; false: one column per sub-key"),
  autocommit: p.bool().default(true).describe("Accepted for IntelMQ compatibility: each input's rows are always committed in one transaction"),
  reconnect_delay: p.number().pipe(z.number().min(0)).default(0).describe("Seconds to wait before connecting again after the connection failed"),
  fail_on_errors: p.bool().default(false)
    .describe("Connection failures fail the message too (retried error_max_retries times, then dumped); false: the message waits until the database is back"),
  connect_timeout: p.number().pipe(z.number().positive()).default(5).describe("Seconds to wait for a connection"),
  inputs_table: z.union([z.string().min(1), z.literal(false)]).default("intelmq_output_inputs")
    .describe("Ours: table (created when missing) remembering the inputs written, so a redelivered input is not inserted twice; false: none (a redelivery after a lost acknowledgement inserts its rows again)"),
  inputs_keep_days: p.number().pipe(z.number().positive()).default(7).describe("Ours: days an input's key stays in inputs_table"),
}).strict();

export type Params = z.infer<typeof params>;

/** Rows per INSERT and values per statement, below every engine's limits. */
const MAX_ROWS = 500;
const MAX_VALUES = 30_000;
/** Text per statement: well below MySQL's default max_allowed_packet (16 MiB) when events carry a large raw. */
const MAX_BYTES = 4 * 1024 * 1024;
const PRUNE_EVERY_MS = 3_600_000;

function rowBytes(r: Row): number {
  let n = 0;
  for (const v of r.values) n += typeof v === "string" ? v.length * 3 : 16;
  return n;
}

interface Row { cols: string[]; values: unknown[] }

/** The key stored for an input (bot, table and input): itself when short, else its hash (the column is 191 characters: MySQL's utf8mb4 index limit). */
function storedKey(key: string): string {
  return key.length <= 190 ? key : `sha256:${createHash("sha256").update(key).digest("hex")}`;
}

/** IntelMQ escapes JSON's \u0000 once more for PostgreSQL, which rejects NUL in json/text (intelmq#2203). */
function pgValue(v: unknown): unknown {
  return typeof v === "string" && v.includes("\\u0000") ? v.replace(/\\u0000/g, "\\\\u0000") : v;
}

/** MySQL's DATETIME takes neither the T nor the offset: IntelMQ's times are UTC, written as such. */
function mysqlTime(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)\+00:00$/.exec(v);
  return m ? `${m[1]} ${m[2]}` : v;
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  if (prm.engine === "mssql") throw new ConfigurationError("engine", "mssql is not supported by this implementation (postgresql, sqlite, mysql, mariadb are)");
  const engine: EngineName = prm.engine === "mariadb" ? "mysql" : prm.engine;
  const database = engine === "sqlite" ? outputPath(prm.database, ctx.rootDir) : prm.database;
  const events = ctx.harmonization.fields("Event");
  const isTime = (k: string): boolean => events.get(k)?.type === "DateTime";
  let con: SqlConnection | null = null;
  let failedBefore = false;
  let lastPrune = 0;
  let pending: Row[] = [];

  const fail = (err: unknown, what: string): never => {
    const kind = classify(engine, err);
    if (kind === "configuration") throw new ConfigurationError("sql", `${what}: ${errorMessage(err)}`, { cause: err });
    if (kind === "connection") {
      // the connection is not to be trusted any more: a new one is made for the next try
      const c = con;
      con = null;
      failedBefore = true;
      void c?.close();
      if (!prm.fail_on_errors) throw new PeerUnavailableError(`${what}: ${errorMessage(err)}`, { cause: err });
    }
    throw err;
  };

  const connection = async (): Promise<SqlConnection> => {
    if (con) return con;
    if (failedBefore && prm.reconnect_delay > 0) await sleep(prm.reconnect_delay * 1000);
    let c: SqlConnection;
    try {
      c = await connect(engine, {
        host: prm.host, port: prm.port, database, user: prm.user, password: prm.password, sslmode: prm.sslmode, connectTimeoutSec: prm.connect_timeout,
      });
    } catch (err) {
      return fail(err, "Failed to connect to database");
    }
    try {
      // looked for first: creating needs a privilege the bot's user may lack (PostgreSQL 15's public schema)
      const exists = prm.inputs_table ? await c.all(`SELECT input_key FROM ${prm.inputs_table} WHERE 1 = 0`).then(() => true, () => false) : true;
      if (!exists) {
        const keyType = engine === "sqlite" ? "TEXT" : "VARCHAR(191)";
        await c.run(`CREATE TABLE IF NOT EXISTS ${prm.inputs_table} (input_key ${keyType} NOT NULL PRIMARY KEY, written_at BIGINT NOT NULL)`);
      }
    } catch (err) {
      await c.close();
      return fail(err, `Could not create ${prm.inputs_table}`);
    }
    ctx.log.info("Connected to database.");
    failedBefore = false;
    con = c;
    return c;
  };

  const insert = async (c: SqlConnection, rows: Row[]): Promise<void> => {
    for (let i = 0; i < rows.length;) {
      const cols = rows[i]!.cols;
      const sig = cols.join("\u0000");
      const per = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_VALUES / Math.max(cols.length, 1))));
      let j = i + 1;
      let bytes = rowBytes(rows[i]!);
      while (j < rows.length && j - i < per && bytes + rowBytes(rows[j]!) <= MAX_BYTES && rows[j]!.cols.join("\u0000") === sig) bytes += rowBytes(rows[j++]!);
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (const r of rows.slice(i, j)) {
        tuples.push(`(${r.values.map((_, k) => c.placeholder(values.length + k)).join(", ")})`);
        values.push(...r.values);
      }
      await c.run(`INSERT INTO ${prm.table} (${cols.map((k) => c.ident(k)).join(", ")}) VALUES ${tuples.join(", ")}`, values);
      i = j;
    }
  };

  const write = async (input: InputRef): Promise<void> => {
    const c = await connection();
    try {
      await c.run(engine === "mysql" ? "START TRANSACTION" : "BEGIN");
    } catch (err) {
      return fail(err, "Could not begin a transaction");
    }
    try {
      if (prm.inputs_table) {
        const now = Date.now();
        const fresh = await c.run(c.insertIgnore(prm.inputs_table, ["input_key", "written_at"]), [storedKey(`${ctx.botId}|${prm.table}|${input.key}`), now]);
        if (fresh === 0) {
          await c.run("ROLLBACK");
          ctx.log.info(`Input ${input.key} was written before; not inserted again.`);
          return;
        }
        if (now - lastPrune > PRUNE_EVERY_MS) {
          await c.run(`DELETE FROM ${prm.inputs_table} WHERE written_at < ${c.placeholder(0)}`, [now - prm.inputs_keep_days * 86_400_000]);
          lastPrune = now;
        }
      }
      await insert(c, pending);
      await c.run("COMMIT");
    } catch (err) {
      // a broken connection is dropped instead (fail() below)
      if (classify(engine, err) !== "connection") await c.run("ROLLBACK").catch(() => undefined);
      ctx.log.error(`Executed rollback command after failed query execution: ${errorMessage(err)}`);
      return fail(err, "Query failed");
    }
  };

  return {
    export(event: Event) {
      const dict = event.toDict({ jsondictAsString: prm.jsondict_as_string });
      const keys = prm.fields ? prm.fields.filter((k) => k in dict) : Object.keys(dict);
      const values = keys.map((k) => {
        let v = dict[k];
        if (v !== null && typeof v === "object") v = JSON.stringify(v);
        if (engine === "postgresql") return pgValue(v);
        if (engine === "mysql" && isTime(k)) return mysqlTime(v);
        return v;
      });
      pending.push({ cols: keys, values });
    },
    async flush(input: InputRef) {
      if (pending.length === 0) return;
      await write(input);
      pending = [];
    },
    discard() {
      pending = [];
    },
    async shutdown() {
      const c = con;
      con = null;
      await c?.close();
    },
  };
}

export default defineBot({
  kind: "output",
  name: "sql",
  intelmq: "intelmq.bots.outputs.sql.output",
  description: "Insert events as rows of a PostgreSQL, SQLite or MySQL/MariaDB table, each input in one transaction",
  params,
  create,
});
