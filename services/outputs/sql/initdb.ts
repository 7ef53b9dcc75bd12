// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's intelmq_psql_initdb: the PostgreSQL schema of the eventdb made from the event fields
 * of harmonization.conf: table `events` with a column per field (sorted by name), an `id`
 * BIGSERIAL key and btree indexes on the fields searched most; optionally `raw` kept in a table
 * of its own behind the view v_events, whose INSERT trigger splits the row.
 */

/** The fields that get an index, as IntelMQ's. */
export const INDEXED_FIELDS = [
  "classification.identifier", "classification.taxonomy", "classification.type", "feed.code", "feed.name",
  "source.abuse_contact", "source.asn", "source.ip", "source.fqdn", "time.observation", "time.source",
];

const TEXT_TYPES = new Set([
  "String", "Base64", "URL", "FQDN", "MalwareName", "ClassificationType", "LowercaseString", "UppercaseString",
  "Registry", "TLP", "ClassificationTaxonomy",
]);

export interface InitdbOptions {
  /** Leave out the events table and its indexes (--no-events). */
  skipEvents?: boolean;
  /** Keep raw in table raws behind view v_events (--separate-raws). */
  separateRaws?: boolean;
  /** Make the primary key (id, this field), for partitioned / TimescaleDB tables (--partition-key). */
  partitionKey?: string | null;
  /** CREATE ... IF NOT EXISTS / CREATE OR REPLACE (--skip-or-replace). */
  skipOrReplace?: boolean;
  /** jsonb instead of json for JSON fields (--jsonb). */
  jsonb?: boolean;
}

/** The PostgreSQL type of a harmonization field. */
export function columnType(spec: { type: string; length?: number }, jsonb = false): string {
  const t = spec.type;
  if (TEXT_TYPES.has(t)) return spec.length !== undefined ? `varchar(${spec.length})` : "text";
  switch (t) {
    case "IPAddress": case "IPNetwork": return "inet";
    case "DateTime": return "timestamp with time zone";
    case "Boolean": return "boolean";
    case "Integer": case "ASN": return "integer";
    case "Float": case "Accuracy": return "real";
    case "UUID": return "UUID";
    case "JSON": case "JSONDict": return jsonb ? "jsonb" : "json";
    default: throw new Error(`Unknown type ${JSON.stringify(t)}.`);
  }
}

/** Column name -> type, sorted by name as Python sorts strings. */
export function eventColumns(eventFields: Record<string, { type: string; length?: number }>, jsonb = false): [string, string][] {
  return Object.keys(eventFields).sort(codepointOrder).map((k) => [k, columnType(eventFields[k]!, jsonb)]);
}

function codepointOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The SQL text, as intelmq_psql_initdb writes it. */
export function generateInitdb(harmonization: { event: Record<string, { type: string; length?: number }> }, o: InitdbOptions = {}): string {
  const cols = eventColumns(harmonization.event, o.jsonb);
  const ifNotExists = o.skipOrReplace ? " IF NOT EXISTS" : "";
  const orReplace = o.skipOrReplace ? " OR REPLACE" : "";
  const pk = o.partitionKey ?? null;
  const out: string[] = [];
  if (!o.skipEvents) {
    const body = [`    "id" BIGSERIAL${pk ? "" : " UNIQUE PRIMARY KEY"}`, ...cols.map(([k, t]) => `    "${k}" ${t}`)];
    if (pk) body.push(`    PRIMARY KEY ("id", "${pk}")`);
    out.push(`CREATE TABLE${ifNotExists} events (`, body.join(",\n"), ");");
    for (const f of INDEXED_FIELDS) out.push(`CREATE INDEX${ifNotExists} "idx_events_${f}" ON events USING btree ("${f}");`);
  }
  if (o.separateRaws) out.push(...separateRaws(cols.map(([k]) => k).filter((k) => k !== "raw"), pk, ifNotExists, orReplace));
  return out.join("\n");
}

function separateRaws(fields: string[], pk: string | null, ifNotExists: string, orReplace: string): string[] {
  const list = (prefix: string, indent: string): string => fields.map((f) => `${indent}${prefix}"${f}"`).join(",\n");
  return [
    "",
    "-- Create the table holding only the \"raw\" values",
    "",
    `CREATE TABLE${ifNotExists} public.raws (`,
    "    event_id bigint,",
    "    raw text,",
    `    PRIMARY KEY(event_id)${pk ? "" : ","}`,
    ...(pk ? [] : ["    CONSTRAINT raws_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE"]),
    ");",
    "",
    "-- Create the v_events view which joins the tables \"events\" and \"raws\"\n",
    `CREATE${orReplace} VIEW public.v_events AS`,
    "    SELECT",
    "        events.id,",
    ...fields.map((f) => `        events."${f}",`),
    "        raws.\"event_id\",",
    "        raws.\"raw\"",
    "    FROM (",
    "        public.events",
    "        JOIN public.raws ON ((events.id = raws.event_id)));",
    "",
    "-- Establish the INSERT trigger for the events table, splitting the data into events and raws",
    "",
    `CREATE${orReplace} FUNCTION public.process_v_events_insert()`,
    "    RETURNS trigger",
    "    LANGUAGE plpgsql",
    "    AS $$",
    "    DECLARE event_id integer;",
    "",
    "    BEGIN",
    "        INSERT INTO",
    "            events (",
    list("", "                "),
    "            )",
    "        VALUES",
    "            (",
    list("NEW.", "                "),
    "            )",
    "            RETURNING id INTO event_id;",
    "        INSERT INTO",
    "            raws (\"event_id\", \"raw\")",
    "        VALUES",
    "            (event_id, NEW.raw);",
    "        RETURN NEW;",
    "    END;",
    "$$;",
    "",
    `CREATE${orReplace} TRIGGER tr_events`,
    "    INSTEAD OF INSERT",
    "    ON public.v_events",
    "    FOR EACH ROW",
    "    EXECUTE FUNCTION public.process_v_events_insert();",
    "",
  ];
}
