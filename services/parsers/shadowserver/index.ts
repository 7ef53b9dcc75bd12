// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Shadowserver parser: every Shadowserver report type, driven by Shadowserver's report schema
 * (IntelMQ's intelmq.bots.parsers.shadowserver.parser). The report type comes from the report's
 * file name (extra.file_name) or the `feedname` parameter; `intelmq-bot <id> --update-schema`
 * downloads the schema.
 */
import { statSync } from "node:fs";
import { z } from "zod";
import {
  ConfigurationError, PythonError, defineParser, p, parserParams, pyRepr, pyStrip, reportText, skipLine,
  type BotContext, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";
import { lineEnding, readRecords } from "./csv.js";
import { compilePlan, rowEvent, rowRaw, type Row } from "./plan.js";
import { SHADOWSERVER_SCHEMA_URL, chooseSchema, loadSchemaFile, type LoadedSchema, type ReportType, type SchemaChoice } from "./schema.js";
import { updateSchema } from "./update.js";

const USER_AGENT = "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36";

export const params = z.object({
  ...parserParams,
  feedname: z.string().nullable().default(null)
    .describe("The schema's feed name (e.g. Accessible-HTTP) of every report; null: detected from each report's extra.file_name"),
  overwrite: p.bool().default(false).describe("Set feed.name to the report type's feed name even when the report has one"),
  auto_update: p.bool().default(false).describe("Download the schema (at most once an hour) when the bot starts"),
  test_mode: p.bool().default(false).describe("Use the schema of IntelMQ's tests (fixtures/shadowserver_test_schema.json)"),
  schema_file: z.string().nullable().default(null)
    .describe("The schema file; null: var/lib/bots/shadowserver-schema.json under the root, and while there is none, the one shipped with the bot"),
  schema_url: z.string().default(SHADOWSERVER_SCHEMA_URL).describe("Where --update-schema and auto_update download the schema from"),
  http_timeout_sec: p.number().default(30).describe("Timeout of the schema download, in seconds"),
  http_user_agent: z.string().default(USER_AGENT).describe("User-Agent header of the schema download"),
}).strict();

export type Params = z.infer<typeof params>;

/** IntelMQ's file-name pattern: an optional date, the report type, then -details, ".csv". */
const FILE_NAME = /^(?:\p{Nd}{4}-\p{Nd}{2}-\p{Nd}{2}-)?([\p{L}\p{N}_]+)(?:-[\p{L}\p{N}_]+)*\.csv\n?$/u;

/** The report type of a file name (Shadowserver names reports `2019-01-01-scan_http-country-geo.csv`), or null. */
export function reportTypeOfFileName(name: string): string | null {
  return FILE_NAME.exec(name)?.[1] ?? null;
}

const valueError = (message: string) => new PythonError("ValueError", `shadowserver: ${message}`);

function schemaSource(prm: Params, ctx: BotContext): SchemaChoice {
  return chooseSchema({ schemaFile: prm.schema_file, testMode: prm.test_mode, rootDir: ctx.rootDir, env: process.env });
}

async function create(prm: Params, ctx: BotContext) {
  const log = ctx.log;
  let choice = schemaSource(prm, ctx);
  if (prm.auto_update && choice.target) {
    log.debug("Feature 'auto_update' is enabled.");
    try {
      await updateSchema({
        url: prm.schema_url, target: choice.target, log, hourly: true,
        timeoutMs: prm.http_timeout_sec * 1000, userAgent: prm.http_user_agent,
      });
    } catch (err) {
      log.error({ err }, (err as Error).message);
    }
    choice = schemaSource(prm, ctx);
  }

  let loaded: LoadedSchema;
  let fixed: ReportType | null = null;
  const use = (next: LoadedSchema, why: string): void => {
    loaded = next;
    const s = next.schema;
    log.info(`Loading schema ${s.version === null ? "without version" : pyRepr(s.version)} from ${next.path} (${why}), ${s.byFileName.size} report types.`);
    for (const line of s.changeLog) log.info(line);
    fixed = null;
    if (prm.feedname !== null) {
      fixed = s.byFeedName.get(prm.feedname) ?? null;
      if (fixed) log.info(`Using fixed feed name ${pyRepr(prm.feedname)} for parsing reports.`);
      else log.info(`Could not determine the feed by the feed name ${pyRepr(prm.feedname)} given by parameter. Will determine the feed from the file names.`);
    }
  };
  try {
    use(loadSchemaFile(choice.path), choice.why);
  } catch (err) {
    throw new ConfigurationError("shadowserver", `cannot load the report schema ${choice.path} (${choice.why}): ${(err as Error).message}`, { cause: err });
  }

  /** A schema file that appeared or changed since (an update) is read before the next report. */
  let refused = "";
  const refresh = (): void => {
    const next = schemaSource(prm, ctx);
    let mtime: number;
    try { mtime = statSync(next.path).mtimeMs; } catch { return; }
    if (next.path === loaded.path && mtime === loaded.mtimeMs) return;
    // a file found unusable is said so once, not before every report
    const seen = `${next.path}\0${mtime}`;
    if (seen === refused) return;
    try {
      use(loadSchemaFile(next.path), next.why);
    } catch (err) {
      refused = seen;
      log.error({ err }, `The schema file cannot be used, keeping the one read from ${loaded.path}: ${(err as Error).message}`);
    }
  };

  /** The report type and feed name of a report. */
  const typeOf = (report: Report): [ReportType, string] => {
    if (fixed) return [fixed, prm.feedname!];
    const fileName = report.get("extra.file_name");
    if (!fileName) {
      throw valueError("No feedname given as parameter and the processed report has no 'extra.file_name'. "
        + "Ensure that at least one is given. Also have a look at the documentation of the bot.");
    }
    const name = reportTypeOfFileName(String(fileName));
    if (name === null) throw valueError(`Report's 'extra.file_name' ${pyRepr(String(fileName))} is not valid.`);
    log.debug(`Detected report's file name: ${pyRepr(name)}.`);
    const type = loaded.schema.byFileName.get(name);
    if (!type) throw valueError(`Could not get a config for ${pyRepr(name)}, check the documentation.`);
    return [type, type.feedName];
  };

  return {
    *parse(report: Report): Generator<Row | SkippedLine> {
      refresh();
      const [type, feedName] = typeOf(report);
      // IntelMQ strips the text, then drops NUL characters
      let text = pyStrip(reportText(report));
      if (text.indexOf("\0") !== -1) text = text.replaceAll("\0", "");
      if (text === "") return;
      const records = readRecords(text);
      const first = records.next();
      if (first.done) return;
      const plan = compilePlan(type, feedName, first.value.fields, lineEnding(text), ctx.harmonization, log);
      yield skipLine(text.slice(0, first.value.end).replace(/(?:\r\n|\r|\n)$/, ""), "header");
      for (const rec of records) {
        if (rec.fields.length === 0) continue; // a blank line is no row (csv.DictReader)
        yield { fields: rec.fields, line: text.slice(rec.start, rec.end), plan };
      }
    },
    parseLine: (row: Row, report: Report) => rowEvent(row, report, ctx, prm.overwrite),
    recoverLine: rowRaw,
  };
}

export default defineParser({
  name: "shadowserver",
  intelmq: "intelmq.bots.parsers.shadowserver.parser",
  description: "Every Shadowserver report type, mapped by Shadowserver's report schema",
  params,
  create,
  commands: {
    "update-schema": {
      description: "Download Shadowserver's report schema from schema_url and install it (schema_file or var/lib/bots/shadowserver-schema.json)",
      async run(prm, env) {
        const target = chooseSchema({ schemaFile: prm.schema_file, testMode: false, rootDir: env.rootDir, env: {} }).target!;
        try {
          const result = await updateSchema({
            url: prm.schema_url, target, log: env.log, timeoutMs: prm.http_timeout_sec * 1000, userAgent: prm.http_user_agent,
          });
          env.log.info(result === "updated" ? `Schema installed at ${target}.` : `Schema at ${target} unchanged.`);
          return 0;
        } catch (err) {
          env.log.error({ err }, (err as Error).message);
          return 1;
        }
      },
    },
  },
});
