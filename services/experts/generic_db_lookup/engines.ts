// SPDX-License-Identifier: AGPL-3.0-only
/** The two engines of the generic DB lookup, each loaded only when used (pg, better-sqlite3). */
import type { Logger } from "pino";
import { ConfigurationError, MissingDependencyError, errorMessage } from "../../../shared/sdk/index.js";

export interface Lookup {
  /** The rows matching, each as its column values in the order of the query. */
  query(values: unknown[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

interface PgParams {
  database: string; host: string; port: number; user: string; password: string;
  sslmode: "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"; connect_timeout: number;
}

function sslOption(mode: PgParams["sslmode"]): boolean | { rejectUnauthorized: boolean; checkServerIdentity?: () => undefined } {
  if (mode === "disable" || mode === "allow") return false;
  if (mode === "verify-full") return { rejectUnauthorized: true };
  if (mode === "verify-ca") return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { rejectUnauthorized: false };
}

/**
 * A PostgreSQL pool of one connection: a broken connection is replaced on the next query (the
 * failed query is an error of its message, which the runtime retries). The first connection is
 * made at start, so that a wrong configuration stops the bot there.
 */
export async function openPostgres(prm: PgParams, sql: string, log: Logger): Promise<Lookup> {
  let pg: typeof import("pg").default;
  try {
    pg = (await import("pg")).default;
  } catch (err) {
    throw new MissingDependencyError("pg", undefined, undefined, undefined, { cause: err });
  }
  const make = (ssl: ReturnType<typeof sslOption>) => {
    const pool = new pg.Pool({
      host: prm.host, port: prm.port, user: prm.user, password: prm.password, database: prm.database, ssl,
      max: 1, connectionTimeoutMillis: Math.round(prm.connect_timeout * 1000),
    });
    // an idle connection that breaks must not end the process: the next query reconnects
    pool.on("error", (err) => log.warn({ err }, `Database connection problem: ${errorMessage(err)}`));
    return pool;
  };
  let pool = make(sslOption(prm.sslmode));
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => undefined);
    // prefer: SSL when the server offers it, else without
    if (prm.sslmode === "prefer" && /does not support SSL/i.test(errorMessage(err))) {
      pool = make(false);
      try {
        await pool.query("SELECT 1");
      } catch (err2) {
        await pool.end().catch(() => undefined);
        throw new ConfigurationError("database", `Failed to connect to database: ${errorMessage(err2)}`, { cause: err2 });
      }
    } else throw new ConfigurationError("database", `Failed to connect to database: ${errorMessage(err)}`, { cause: err });
  }
  return {
    async query(values) {
      const r = await pool.query({ text: sql, values, rowMode: "array" });
      return r.rows as unknown[][];
    },
    close: () => pool.end(),
  };
}

export async function openSqlite(file: string, sql: string, timeoutSeconds: number): Promise<Lookup> {
  let Database: typeof import("better-sqlite3");
  try {
    Database = (await import("better-sqlite3")).default;
  } catch (err) {
    throw new MissingDependencyError("better-sqlite3", undefined, undefined, undefined, { cause: err });
  }
  let stmt: import("better-sqlite3").Statement<unknown[], unknown[]>;
  let db: import("better-sqlite3").Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: Math.round(timeoutSeconds * 1000) });
    stmt = db.prepare<unknown[], unknown[]>(sql).raw(true);
  } catch (err) {
    throw new ConfigurationError("database", `SQLite database ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return {
    query(values) {
      // SQLite binds numbers, strings, bigints, buffers and null; booleans as 0/1
      const row = stmt.get(...values.map((v) => (typeof v === "boolean" ? Number(v) : v === undefined ? null : v)));
      return Promise.resolve(row === undefined ? [] : [row]);
    },
    close: () => { db.close(); return Promise.resolve(); },
  };
}
