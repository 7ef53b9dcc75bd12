// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The real databases of the SQL output's tests: PostgreSQL on 127.0.0.1:5432 (user postgres,
 * trust) and MariaDB/MySQL on 127.0.0.1:3306 (root without password), as this machine and
 * .ci/run set them up; each test database and user is created here. Another server is named by
 * PGHOST/PGPORT/PGUSER/PGPASSWORD and MYSQL_HOST/MYSQL_PORT/MYSQL_ROOT_USER/MYSQL_ROOT_PASSWORD.
 * A missing server fails the test: nothing is skipped.
 */
import pg from "pg";
import mysql from "mysql2/promise";

export const TEST_DB = "intelmq_nats_test";
export const MYSQL_USER = "intelmq_test";
export const MYSQL_PASSWORD = "intelmq_test";

export const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  password: process.env.PGPASSWORD ?? null,
};
export const MYSQL = {
  host: process.env.MYSQL_HOST ?? "127.0.0.1",
  port: Number(process.env.MYSQL_PORT ?? 3306),
};

/** A client of the test database (created when missing). */
export async function pgClient(database = TEST_DB): Promise<pg.Client> {
  if (database === TEST_DB) {
    const admin = new pg.Client({ ...PG, password: PG.password ?? undefined, database: "postgres" });
    await admin.connect();
    try {
      const r = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [TEST_DB]);
      if (r.rowCount === 0) await admin.query(`CREATE DATABASE ${TEST_DB}`).catch((err: { code?: string }) => { if (err.code !== "42P04" && err.code !== "23505") throw err; });
    } finally {
      await admin.end();
    }
  }
  const c = new pg.Client({ ...PG, password: PG.password ?? undefined, database });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** The SQL output's parameters for the PostgreSQL test database. */
export function pgParams(table: string): Record<string, unknown> {
  return { engine: "postgresql", host: PG.host, port: PG.port, user: PG.user, password: PG.password, database: TEST_DB, sslmode: "disable", table };
}

/** A root connection to MariaDB; makes the test database and the test user (idempotent). */
export async function mysqlAdmin(): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: MYSQL.host, port: MYSQL.port, user: process.env.MYSQL_ROOT_USER ?? "root", password: process.env.MYSQL_ROOT_PASSWORD ?? undefined,
    charset: "utf8mb4", dateStrings: true,
  });
  await c.query(`CREATE DATABASE IF NOT EXISTS ${TEST_DB} CHARACTER SET utf8mb4`);
  for (const host of ["127.0.0.1", "localhost"]) {
    await c.query(`CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'${host}' IDENTIFIED BY '${MYSQL_PASSWORD}'`);
    await c.query(`GRANT ALL PRIVILEGES ON ${TEST_DB}.* TO '${MYSQL_USER}'@'${host}'`);
  }
  await c.query(`USE ${TEST_DB}`);
  return c;
}

/** The SQL output's parameters for the MariaDB test database, as the test user. */
export function mysqlParams(table: string): Record<string, unknown> {
  return { engine: "mariadb", host: MYSQL.host, port: MYSQL.port, user: MYSQL_USER, password: MYSQL_PASSWORD, database: TEST_DB, sslmode: "disable", table };
}
