// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shadowserver's report schema (https://interchange.shadowserver.org/intelmq/v1/schema): per
 * report type its feed name, file name, required, optional and constant fields. Read and checked
 * here; where the bot finds it is decided here too.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pyRepr } from "../../../shared/sdk/index.js";

/** Shadowserver's published schema, IntelMQ's default download. */
export const SHADOWSERVER_SCHEMA_URL = "https://interchange.shadowserver.org/intelmq/v1/schema";
/** The test schema's name in IntelMQ's recorded cases (INTELMQ_CONFORMANCE_DIR). */
export const TEST_SCHEMA_NAME = "shadowserver_test_schema.json";

/** One column mapping: `[key, column, function?, function takes the row?]`; key false ignores the column. */
export interface FieldMap {
  readonly key: string | false;
  readonly column: string;
  readonly fn: string | null;
  readonly withRow: boolean;
}

export interface ReportType {
  readonly feedName: string;
  readonly fileName: string;
  readonly url: string | null;
  readonly required: readonly FieldMap[];
  readonly optional: readonly FieldMap[];
  readonly constants: Readonly<Record<string, unknown>>;
}

export interface Schema {
  /** `_meta.date_created`, null when the file has none (the test schema). */
  readonly version: string | null;
  readonly changeLog: readonly string[];
  readonly byFeedName: ReadonlyMap<string, ReportType>;
  readonly byFileName: ReadonlyMap<string, ReportType>;
}

/** A schema file that cannot be used, with the reason. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function fieldMaps(report: string, section: string, v: unknown): FieldMap[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SchemaError(`report ${pyRepr(report)}: ${section} is not a list`);
  return v.map((item, i): FieldMap => {
    const where = `report ${pyRepr(report)}: ${section}[${i}]`;
    if (!Array.isArray(item) || item.length < 2 || item.length > 4) throw new SchemaError(`${where} is not a list of 2 to 4 entries`);
    const [key, column, fn, withRow] = item as unknown[];
    // null is taken as false (ignore the column); IntelMQ's schemas use false
    if (typeof key !== "string" && key !== false && key !== null) throw new SchemaError(`${where}: the field name is neither a string nor false`);
    if (typeof column !== "string") throw new SchemaError(`${where}: the column name is not a string`);
    if (fn !== undefined && fn !== null && typeof fn !== "string") throw new SchemaError(`${where}: the conversion function is not a name`);
    return { key: typeof key === "string" ? key : false, column, fn: typeof fn === "string" ? fn : null, withRow: item.length === 4 && Boolean(withRow) };
  });
}

/** Parse and check a schema's text; `requireVersion` for downloads (IntelMQ checks `_meta.date_created`). */
export function parseSchema(text: string, requireVersion = false): Schema {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SchemaError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new SchemaError("not a JSON object of report types");
  let version: string | null = null;
  const changeLog: string[] = [];
  const byFeedName = new Map<string, ReportType>();
  const byFileName = new Map<string, ReportType>();
  for (const [name, entry] of Object.entries(doc)) {
    if (name === "_meta") {
      if (isObject(entry)) {
        if (typeof entry.date_created === "string") version = entry.date_created;
        if (Array.isArray(entry.change_log)) for (const l of entry.change_log) changeLog.push(String(l));
      }
      continue;
    }
    if (!isObject(entry)) throw new SchemaError(`report ${pyRepr(name)} is not an object`);
    if (typeof entry.feed_name !== "string" || typeof entry.file_name !== "string") {
      throw new SchemaError(`report ${pyRepr(name)} has no feed_name or file_name`);
    }
    const constants = entry.constant_fields ?? {};
    if (!isObject(constants)) throw new SchemaError(`report ${pyRepr(name)}: constant_fields is not an object`);
    const type: ReportType = {
      feedName: entry.feed_name,
      fileName: entry.file_name,
      url: typeof entry.url === "string" ? entry.url : null,
      required: fieldMaps(name, "required_fields", entry.required_fields),
      optional: fieldMaps(name, "optional_fields", entry.optional_fields),
      constants,
    };
    byFeedName.set(type.feedName, type);
    byFileName.set(type.fileName, type);
  }
  if (requireVersion && version === null) throw new SchemaError("no _meta.date_created (the schema's version)");
  if (byFileName.size === 0) throw new SchemaError("no report types");
  return { version, changeLog, byFeedName, byFileName };
}

/** A schema file read, with its modification time (a newer file is read again). */
export interface LoadedSchema {
  readonly path: string;
  readonly mtimeMs: number;
  readonly schema: Schema;
}

export function loadSchemaFile(path: string): LoadedSchema {
  const mtimeMs = statSync(path).mtimeMs;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SchemaError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return { path, mtimeMs, schema: parseSchema(text) };
  } catch (err) {
    throw new SchemaError(`${path}: ${(err as Error).message}`);
  }
}

/** This bot's source folder (schema.json, fixtures/), from the compiled file under dist/ or the source. */
export const BOT_DIR: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  const parts = here.split("/");
  const dist = parts.lastIndexOf("dist");
  return dist === -1 ? here : join(parts.slice(0, dist).join("/") || "/", ...parts.slice(dist + 1));
})();

/** The schema shipped with the project: Shadowserver's published schema, for offline use. */
export const SHIPPED_SCHEMA = join(BOT_DIR, "schema.json");
/** The schema of IntelMQ's tests (test_mode), as IntelMQ ships schema.json.test. */
export const BUNDLED_TEST_SCHEMA = join(BOT_DIR, "fixtures", TEST_SCHEMA_NAME);

/** IntelMQ's default place of the downloaded schema: VAR_STATE_PATH/shadowserver-schema.json. */
export function defaultSchemaPath(rootDir: string): string {
  return join(rootDir, "var", "lib", "bots", "shadowserver-schema.json");
}

/** A path parameter: relative ones are taken under the root. */
export function underRoot(rootDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(rootDir, path);
}

export interface SchemaChoice {
  /** The file to read. */
  path: string;
  /** Where updates go (schema_file or the default place); null in test mode. */
  target: string | null;
  why: string;
}

/**
 * Which schema file the bot reads: the `schema_file` parameter; in test mode (or when the
 * conformance checker sets INTELMQ_CONFORMANCE_DIR) the test schema; else the downloaded one at
 * the default place, and while there is none, the one shipped with the project.
 */
export function chooseSchema(o: { schemaFile: string | null; testMode: boolean; rootDir: string; env: NodeJS.ProcessEnv }): SchemaChoice {
  if (o.schemaFile) {
    const path = underRoot(o.rootDir, o.schemaFile);
    return { path, target: path, why: "parameter schema_file" };
  }
  const conf = o.env.INTELMQ_CONFORMANCE_DIR;
  if (conf) return { path: join(conf, TEST_SCHEMA_NAME), target: null, why: "INTELMQ_CONFORMANCE_DIR" };
  if (o.testMode) return { path: BUNDLED_TEST_SCHEMA, target: null, why: "test_mode" };
  const path = defaultSchemaPath(o.rootDir);
  if (existsSync(path)) return { path, target: path, why: "downloaded schema" };
  return { path: SHIPPED_SCHEMA, target: path, why: `shipped schema (no ${path} yet)` };
}
