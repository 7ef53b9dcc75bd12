// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The SQL output at the end of a real pipeline (CSV parser -> sql output, as intelmq-bot processes
 * on a nats-server of their own) into PostgreSQL, MariaDB and SQLite: 10,000 events, each in the
 * table once, while the database goes away (a proxy in front of it cut and restored, PostgreSQL's
 * backend terminated) and the output is SIGKILLed; it resumes by itself.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import Database from "better-sqlite3";
import { startNatsServer } from "../helpers/nats-server.js";
import { BENCH_COLUMNS, TestPipeline, benchReport, sleep, waitFor } from "../helpers/pipeline.js";
import { writeWorkload } from "../helpers/workload.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { MYSQL, PG, mysqlAdmin, mysqlParams, pgClient, pgParams } from "../helpers/sql.js";

const REPORTS = 10;
const LINES = 1_000;
const EVENTS = REPORTS * LINES;
const COLUMNS = ["source.ip", "source.fqdn", "source.url", "time.source", "classification.type", "malware.name", "source.port", "source.asn", "feed.name", "raw"];

/** The workload without repeated lines: 10,000 distinct source.url. */
function workload(): { reports: Record<string, unknown>[]; urls: Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), "sql-e2e-"));
  try {
    const files = writeWorkload(dir, { reports: REPORTS, lines: LINES, dupEvery: 0, seed: 11 });
    const urls = new Set<string>();
    for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line) urls.add(line.split(",")[2]!);
    assert.equal(urls.size, EVENTS);
    return { reports: files.map(benchReport), urls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bots(output: Record<string, unknown>): Record<string, unknown> {
  return {
    "sql-parser": {
      module: "intelmq.bots.parsers.generic.parser_csv", name: "Generic CSV", group: "Parser", enabled: true,
      parameters: { columns: BENCH_COLUMNS, delimiter: ",", default_url_protocol: "http://", destination_queues: { _default: ["sql-output-queue"] } },
    },
    "sql-output": {
      module: "intelmq.bots.outputs.sql.output", name: "SQL", group: "Output", enabled: true,
      parameters: { fields: COLUMNS, reconnect_delay: 0.5, ...output },
    },
  };
}

/** Runs the pipeline; `disturb` is called once the first rows are in; then every URL must be there once. */
async function run(output: Record<string, unknown>, urls: () => Promise<string[]>, reports: Record<string, unknown>[], expected: Set<string>,
  disturb: (p: TestPipeline) => Promise<void>): Promise<string> {
  const nats = await startNatsServer();
  const p = new TestPipeline(nats.url, bots(output), { error_retry_delay: 1 });
  try {
    p.start("sql-parser");
    p.start("sql-output");
    const injecting = (async () => {
      for (let i = 0; i < reports.length; i++) {
        await p.inject("sql-parser-queue", [reports[i]!], `r${i}`);
        await sleep(2_000);
      }
    })();
    await waitFor(async () => (await urls()).length > 0, 60_000, "the first rows");
    const before = (await urls()).length;
    assert.ok(before < EVENTS / 2, `disturbed while the events are coming (${before} rows in)`);
    await disturb(p);
    const after = (await urls()).length;
    assert.ok(after < EVENTS, `events still coming after the disturbance (${after} rows in)`);
    await injecting;
    const b = await p.broker();
    await waitFor(async () => (await urls()).length >= EVENTS && (await b.queues.depth("sql-output-queue")) === 0 && (await b.queues.depth("sql-parser-queue")) === 0,
      240_000, `${EVENTS} rows`, 500).catch(async (err: Error) => {
      throw new Error(`${err.message} (rows ${(await urls()).length}); output log:\n${p.log("sql-output").slice(-3000)}`);
    });
    await sleep(1500); // anything late would show up now
    const got = await urls();
    const seen = new Map<string, number>();
    for (const u of got) seen.set(u, (seen.get(u) ?? 0) + 1);
    const duplicated = [...seen.values()].filter((n) => n > 1).length;
    const missing = [...expected].filter((u) => !seen.has(u)).length;
    assert.deepEqual({ rows: got.length, duplicated, missing }, { rows: EVENTS, duplicated: 0, missing: 0 });
    assert.equal((await b.dumps.read()).length, 0, "nothing in the dumps");
    return p.log("sql-output");
  } finally {
    await p.close();
    await nats.stop();
  }
}

/** SIGKILL the output while it writes, start it again. */
async function killOutput(p: TestPipeline): Promise<void> {
  await p.kill("sql-output", "SIGKILL");
  p.start("sql-output");
}

describe("sql output end to end", { timeout: 600_000 }, () => {
  const { reports, urls: expected } = workload();

  it("PostgreSQL: 10,000 events once each, through a cut connection, a terminated backend and a SIGKILL", async () => {
    const c = await pgClient();
    const table = `e2e_events_${process.pid}`;
    await c.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, ${COLUMNS.map((k) => `"${k}" text`).join(", ")})`);
    const proxy = await TcpProxy.start(PG.port, PG.host);
    try {
      const log = await run({ ...pgParams(table), port: proxy.port }, async () => (await c.query(`SELECT "source.url" AS u FROM ${table}`)).rows.map((r) => String(r.u)), reports, expected,
        async (p) => {
          await proxy.down();
          await sleep(4_000);
          await proxy.up();
          await sleep(1_500);
          await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'intelmq-sql-output' AND datname = current_database()");
          await sleep(2_000);
          await killOutput(p);
        });
      assert.ok(proxy.connections >= 2, `reconnected (${proxy.connections} connections)`);
      assert.match(log, /The destination is unavailable; the message waits for it/);
    } finally {
      await proxy.down();
      await c.query(`DROP TABLE IF EXISTS ${table}`);
      await c.end();
    }
  });

  it("MariaDB: 10,000 events once each, through a cut connection and a SIGKILL", async () => {
    const c = await mysqlAdmin();
    const table = `e2e_events_${process.pid}`;
    await c.query(`CREATE TABLE ${table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, ${COLUMNS.map((k) => `\`${k}\` TEXT`).join(", ")})`);
    const proxy = await TcpProxy.start(MYSQL.port, MYSQL.host);
    try {
      const log = await run({ ...mysqlParams(table), port: proxy.port }, async () => ((await c.query(`SELECT \`source.url\` AS u FROM ${table}`))[0] as { u: string }[]).map((r) => r.u),
        reports, expected, async (p) => {
          await proxy.down();
          await sleep(4_000);
          await proxy.up();
          await sleep(1_500);
          await killOutput(p);
        });
      assert.ok(proxy.connections >= 2, `reconnected (${proxy.connections} connections)`);
      assert.match(log, /The destination is unavailable; the message waits for it/);
    } finally {
      await proxy.down();
      await c.query(`DROP TABLE IF EXISTS ${table}`);
      await c.end();
    }
  });

  it("SQLite: 10,000 events once each, through two SIGKILLs of the output", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sql-e2e-sqlite-"));
    const file = join(dir, "events.sqlite");
    const setup = new Database(file);
    setup.exec(`CREATE TABLE events (${COLUMNS.map((k) => `"${k}" TEXT`).join(", ")})`);
    setup.close();
    const urls = async (): Promise<string[]> => {
      const db = new Database(file, { readonly: true, timeout: 5000 });
      try {
        return (db.prepare(`SELECT "source.url" AS u FROM events`).all() as { u: string }[]).map((r) => r.u);
      } finally {
        db.close();
      }
    };
    try {
      await run({ engine: "sqlite", database: file }, urls, reports, expected, async (p) => {
        await killOutput(p);
        await sleep(1_500);
        await killOutput(p);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
