// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Generic DB lookup expert (IntelMQ's intelmq.bots.experts.generic_db_lookup.expert): looks the
 * event up in a table (PostgreSQL or SQLite) by some of its fields and sets other fields from the
 * matching row.
 */
import { z } from "zod";
import { databasePath, defineBot, p } from "../../../shared/sdk/index.js";
import { openPostgres, openSqlite, type Lookup } from "./engines.js";

/** A mapping as a YAML/JSON object or a JSON text (IntelMQ's web interface stores them as text). */
const mapping = (dflt: Record<string, string>) => z.preprocess(
  (v) => (typeof v === "string" ? (() => { try { return JSON.parse(v) as unknown; } catch { return v; } })() : v),
  z.record(z.string(), z.string()).refine((m) => Object.keys(m).length > 0, "must name at least one field"),
).default(dflt);

export const params = z.object({
  engine: z.enum(["postgresql", "sqlite"], { error: "must be postgresql or sqlite" }).describe("postgresql or sqlite"),
  database: z.string().default("intelmq").describe("PostgreSQL: the database; SQLite: the database file (relative paths under INTELMQ_ROOT_DIR)"),
  host: z.string().default("localhost").describe("PostgreSQL server"),
  port: p.int().pipe(z.number().int().min(1).max(65535)).default(5432).describe("PostgreSQL port"),
  user: z.string().default("intelmq").describe("PostgreSQL user"),
  password: p.secret(z.string()).default("<password>").describe("PostgreSQL password"),
  sslmode: z.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]).default("require").describe("PostgreSQL's sslmode"),
  connect_timeout: z.coerce.number().positive().default(5).describe("Seconds to wait for a connection (SQLite: for a locked database)"),
  table: z.string().default("contacts").describe("The table to look in"),
  match_fields: mapping({ "source.asn": "asn" }).describe("Event field -> column: a row matches when every column equals the event's field"),
  replace_fields: mapping({ contact: "source.abuse_contact", note: "comment" }).describe("Column -> event field set from the matching row"),
  overwrite: p.bool().default(false).describe("Look up also when the event has every field of replace_fields already"),
}).strict();

/** An SQL identifier in double quotes (a quote inside doubled). */
const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;

export default defineBot({
  kind: "expert",
  name: "generic_db_lookup",
  intelmq: "intelmq.bots.experts.generic_db_lookup.expert",
  description: "Sets fields of the event from the row of a PostgreSQL or SQLite table that matches other fields of it",
  params,
  create: async (prm, ctx) => {
    const matchKeys = Object.keys(prm.match_fields);
    const columns = Object.keys(prm.replace_fields);
    const where = Object.values(prm.match_fields).map((c, i) => `${ident(c)} = ${prm.engine === "sqlite" ? "?" : `$${i + 1}`}`).join(" AND ");
    const sql = `SELECT ${columns.map(ident).join(", ")} FROM ${ident(prm.table)} WHERE ${where}`;
    let db: Lookup;
    if (prm.engine === "sqlite") db = await openSqlite(databasePath(prm.database, ctx.rootDir), sql, prm.connect_timeout);
    else {
      db = await openPostgres(prm, sql, ctx.log);
      ctx.log.info("Connected to database.");
    }
    return {
      async process(event) {
        for (const key of matchKeys) {
          if (!event.has(key)) {
            ctx.log.debug(`${key} not present in event. Skipping event.`);
            return event;
          }
        }
        if (!prm.overwrite && Object.values(prm.replace_fields).every((f) => event.has(f))) return event;
        const rows = await db.query(matchKeys.map((k) => event.get(k)));
        // SQLite gives no row count before fetching: IntelMQ took its first row there.
        if (rows.length > 1 && prm.engine === "postgresql") throw new AmbiguousLookup(`Lookup returned more then one result (${rows.length} rows). Please inspect.`);
        const row = rows[0];
        if (!row) {
          ctx.log.debug("No row found.");
          return event;
        }
        columns.forEach((c, i) => event.add(prm.replace_fields[c]!, row[i], { overwrite: true }));
        ctx.log.debug("Applied.");
        return event;
      },
      shutdown: () => db.close(),
    };
  },
});

/** An error of the message: more than one row matches (IntelMQ's ValueError). */
class AmbiguousLookup extends Error {
  override readonly name = "ValueError";
}
