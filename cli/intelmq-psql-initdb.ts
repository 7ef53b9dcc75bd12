// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq_psql_initdb`: writes the SQL that creates the eventdb's `events` table (PostgreSQL)
 * from the event fields of harmonization.conf, as IntelMQ's command of the same name: to
 * /tmp/initdb.sql, or a new temporary file when that exists; `-o -` writes to standard output.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { intelmqPaths } from "../shared/config/index.js";
import { generateInitdb } from "../services/outputs/sql/initdb.js";

const program = new Command("intelmq_psql_initdb")
  .description("Generates a SQL command file with commands to create the events table, from the harmonization configuration.")
  .option("-o, --outputfile <file>", "Defines the output file (- for standard output)", "/tmp/initdb.sql")
  .option("--no-events", "Skip generating the events table schema")
  .option("--separate-raws", "Generate v_events view to separate raw field from the rest of the data on insert", false)
  .option("--partition-key <field>", "Add given field to the primary key of the events table to allow partitioning (TimescaleDB); with --separate-raws raws gets no foreign key")
  .option("--harmonization <file>", "Path to the harmonization file", intelmqPaths().harmonizationConfFile)
  .option("--skip-or-replace", "Add IF NOT EXISTS or REPLACE directive to created schemas", false)
  .option("--jsonb", "Use JSONB type to represent dictionary fields", false);
program.parse();
const o = program.opts<{ outputfile: string; events: boolean; separateRaws: boolean; partitionKey?: string; harmonization: string; skipOrReplace: boolean; jsonb: boolean }>();

// informational lines go to stderr, so that `-o -` gives clean SQL on stdout
const info = (line: string): void => { process.stderr.write(`${line}\n`); };
let harmonization: { event: Record<string, { type: string; length?: number }> };
try {
  info(`INFO - Reading ${o.harmonization} file`);
  harmonization = JSON.parse(readFileSync(o.harmonization, "utf8")) as typeof harmonization;
} catch {
  info(`ERROR - Could not find ${o.harmonization}`);
  info("ERROR - Make sure that you have intelmq installed.");
  process.exit(2);
}
const sql = generateInitdb(harmonization, {
  skipEvents: !o.events, separateRaws: o.separateRaws, partitionKey: o.partitionKey ?? null, skipOrReplace: o.skipOrReplace, jsonb: o.jsonb,
});
if (o.outputfile === "-") {
  process.stdout.write(sql);
} else {
  let file = o.outputfile;
  if (existsSync(file)) {
    info(`INFO - File ${file} exists, generating temporary file.`);
    file = join(mkdtempSync(join(tmpdir(), "initdb-")), "initdb.sql");
  }
  info(`INFO - Writing ${file} file`);
  const fd = openSync(file, "wx");
  try { writeSync(fd, sql); } finally { closeSync(fd); }
}
