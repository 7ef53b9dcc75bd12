// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The database engines of the SQL output behind one small interface: a connection that runs a
 * statement with positional values inside explicit transactions, knows its quoting and
 * placeholders, and tells a failure of the connection (wait and reconnect) from a failure of
 * the statement (the data or the schema: the message's problem).
 */
import pg from "pg";
import mysql from "mysql2/promise";
import Database from "better-sqlite3";
import { ConfigurationError } from "../../../shared/sdk/index.js";

export type EngineName = "postgresql" | "sqlite" | "mysql";

export interface ConnectOptions {
  host: string;
  port: number | null;
  database: string;
  user: string;
  password: string | null;
  sslmode: string;
  connectTimeoutSec: number;
}

export interface SqlConnection {
  readonly engine: EngineName;
  /** An identifier (column name) quoted for this engine. */
  ident(name: string): string;
  /** The placeholder of the i-th value (0-based) of a statement. */
  placeholder(i: number): string;
  /** Runs one statement; returns the rows it changed. */
  run(sql: string, values?: readonly unknown[]): Promise<number>;
  /** Runs a query; returns its rows. */
  all(sql: string, values?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** INSERT that does nothing when the key exists: returns the statement (the key is the only value). */
  insertIgnore(table: string, columns: readonly string[]): string;
  close(): Promise<void>;
}

/** How a failure is to be handled. */
export type FailureKind = "connection" | "configuration" | "statement";

const NET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND", "ECONNABORTED"]);
// SQLSTATE classes/codes of PostgreSQL that are the connection's or the server's state, not the data's
const PG_TRANSIENT = new Set(["57P01", "57P02", "57P03", "53300", "53400", "40001", "40P01", "55P03", "58000", "58030"]);
const PG_CONFIG = new Set(["28000", "28P01", "3D000", "42501"]);
const MYSQL_TRANSIENT = new Set(["PROTOCOL_CONNECTION_LOST", "ER_CON_COUNT_ERROR", "ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT",
  "ER_SERVER_SHUTDOWN", "ER_CONNECTION_KILLED", "PROTOCOL_SEQUENCE_TIMEOUT", "ER_QUERY_INTERRUPTED", "ER_CLIENT_INTERACTION_TIMEOUT"]);
const MYSQL_CONFIG = new Set(["ER_ACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_TABLEACCESS_DENIED_ERROR"]);
const SQLITE_TRANSIENT = new Set(["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL"]);
const SQLITE_CONFIG = new Set(["SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOTADB"]);

export function classify(engine: EngineName, err: unknown): FailureKind {
  const e = err as { code?: unknown; fatal?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : "";
  if (NET_CODES.has(code)) return "connection";
  if (engine === "postgresql") {
    if (PG_CONFIG.has(code)) return "configuration";
    if (code.startsWith("08") || PG_TRANSIENT.has(code)) return "connection";
    if (!code && /Connection terminated|connection error|not queryable|timeout|Client was closed|SSL/i.test(message)) return "connection";
    return "statement";
  }
  if (engine === "mysql") {
    if (MYSQL_CONFIG.has(code)) return "configuration";
    if (MYSQL_TRANSIENT.has(code) || e.fatal === true) return "connection";
    if (!code && /closed state|connection/i.test(message)) return "connection";
    return "statement";
  }
  const base = code.split("_").slice(0, 2).join("_");
  if (SQLITE_CONFIG.has(base)) return "configuration";
  if (SQLITE_TRANSIENT.has(base)) return "connection";
  return "statement";
}

/** psycopg2's (libpq's) sslmode as node-postgres' ssl option; null: try TLS first, then without. */
function pgSsl(mode: string): pg.ClientConfig["ssl"] | null {
  switch (mode) {
    case "disable": return false;
    case "allow": case "prefer": return null;
    case "require": return { rejectUnauthorized: false };
    // verify-ca checks the chain, not the name
    case "verify-ca": return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full": return { rejectUnauthorized: true };
    default: throw new ConfigurationError("sslmode", `unknown sslmode ${JSON.stringify(mode)} (disable, allow, prefer, require, verify-ca, verify-full)`);
  }
}

async function connectPostgres(o: ConnectOptions): Promise<SqlConnection> {
  const ssl = pgSsl(o.sslmode);
  const open = async (s: pg.ClientConfig["ssl"]): Promise<pg.Client> => {
    const client = new pg.Client({
      host: o.host, port: o.port ?? 5432, database: o.database, user: o.user, password: o.password ?? undefined,
      ssl: s, connectionTimeoutMillis: o.connectTimeoutSec * 1000, application_name: "intelmq-sql-output",
    });
    // an idle connection that breaks must not crash the process; the next statement finds out
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  };
  let client: pg.Client;
  if (ssl === null) {
    try {
      client = await open({ rejectUnauthorized: false });
    } catch (err) {
      if (!/does not support SSL/i.test(String((err as Error).message))) throw err;
      client = await open(false);
    }
  } else {
    client = await open(ssl);
  }
  return {
    engine: "postgresql",
    ident: (n) => `"${n.replace(/"/g, '""')}"`,
    placeholder: (i) => `$${i + 1}`,
    async run(sql, values) { return (await client.query(sql, values as unknown[] | undefined)).rowCount ?? 0; },
    async all(sql, values) { return (await client.query(sql, values as unknown[] | undefined)).rows as Record<string, unknown>[]; },
    insertIgnore: (table, cols) => `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")}) ON CONFLICT DO NOTHING`,
    async close() { await client.end().catch(() => undefined); },
  };
}

async function connectMysql(o: ConnectOptions): Promise<SqlConnection> {
  let ssl: mysql.ConnectionOptions["ssl"];
  if (o.sslmode === "require") ssl = { rejectUnauthorized: false };
  else if (o.sslmode === "verify-ca" || o.sslmode === "verify-full") ssl = { rejectUnauthorized: true };
  else if (!["disable", "allow", "prefer"].includes(o.sslmode)) pgSsl(o.sslmode);
  const con = await mysql.createConnection({
    host: o.host, port: o.port ?? 3306, database: o.database, user: o.user, password: o.password ?? undefined, ssl,
    connectTimeout: o.connectTimeoutSec * 1000, charset: "utf8mb4", dateStrings: true, supportBigNumbers: true, bigNumberStrings: true,
  });
  con.on("error", () => undefined);
  return {
    engine: "mysql",
    ident: (n) => `\`${n.replace(/`/g, "``")}\``,
    placeholder: () => "?",
    async run(sql, values) {
      const [res] = await con.query(sql, values as unknown[] | undefined);
      return (res as { affectedRows?: number }).affectedRows ?? 0;
    },
    async all(sql, values) { return (await con.query(sql, values as unknown[] | undefined))[0] as Record<string, unknown>[]; },
    insertIgnore: (table, cols) => `INSERT IGNORE INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    async close() { await con.end().catch(() => con.destroy()); },
  };
}

function connectSqlite(o: ConnectOptions): SqlConnection {
  const db = new Database(o.database, { timeout: o.connectTimeoutSec * 1000 });
  // a committed batch is on disk (synchronous FULL in WAL mode syncs at each commit)
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const bind = (values?: readonly unknown[]): unknown[] => (values ?? []).map((v) => (typeof v === "boolean" ? Number(v) : v));
  return {
    engine: "sqlite",
    ident: (n) => `"${n.replace(/"/g, '""')}"`,
    placeholder: () => "?",
    run: async (sql, values) => {
      const st = db.prepare(sql);
      return st.reader ? (st.all(...bind(values)), 0) : st.run(...bind(values)).changes;
    },
    all: async (sql, values) => db.prepare(sql).all(...bind(values)) as Record<string, unknown>[],
    insertIgnore: (table, cols) => `INSERT OR IGNORE INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    close: async () => { db.close(); },
  };
}

export async function connect(engine: EngineName, o: ConnectOptions): Promise<SqlConnection> {
  if (engine === "postgresql") return connectPostgres(o);
  if (engine === "mysql") return connectMysql(o);
  return connectSqlite(o);
}
