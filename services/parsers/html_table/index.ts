// SPDX-License-Identifier: AGPL-3.0-only
/**
 * HTML table parser: the rows of one table of an HTML page, each into an event, its cells mapped to
 * fields by the `columns` parameter (IntelMQ's intelmq.bots.parsers.html_table.parser).
 */
import { z } from "zod";
import {
  ConfigurationError, DecodingError, LineError, defineParser, findAllHtml, htmlOuter, htmlText, p, parseHtml, parserParams,
  reportText, skipLine, type BotContext, type HtmlElement, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";
import { timeConverter } from "../generic_csv/time.js";

const words = (s: string) => s.split(",").map((c) => c.trim());

export const params = z.object({
  ...parserParams,
  columns: z.union([z.string(), z.array(z.string())]).default(["", "source.fqdn"]).transform((v) => (typeof v === "string" ? words(v) : v))
    .describe("Field of each cell, in order (list or comma-separated text); \"a|b\" tries a, then b; \"\" or \"__IGNORE__\" skips the cell"),
  ignore_values: z.union([z.string(), z.array(z.string())]).nullable().default(null)
    .transform((v) => (typeof v === "string" ? words(v) : v))
    .describe("Per column, a cell value that is left out (list or comma-separated text, as long as columns)"),
  skip_table_head: p.bool().default(true).describe("Skip the first row of the table (its head)"),
  attribute_name: z.string().default("").describe("Choose tables by this attribute (with attribute_value)"),
  attribute_value: z.string().default("").describe("The value of attribute_name the table must have"),
  table_index: p.int().default(0).describe("Which of the (matching) tables to parse, from 0"),
  split_column: z.string().default("").describe("Field whose cell is split, keeping one part"),
  split_separator: z.string().nullable().default(null).describe("Separator for split_column (null: runs of whitespace)"),
  split_index: p.int().default(0).describe("Which part of the split cell to keep, from 0 (negative: from the end)"),
  default_url_protocol: z.string().default("http://").describe("Prefix for *.url values without \"://\""),
  time_format: z.string().nullable().default(null)
    .describe("Conversion of time.source/time.destination: timestamp, windows_nt, epoch_millis, utc_isoformat, fuzzy, from_format|<strptime>, from_format_midnight|<strptime>; null: fuzzy"),
  type: z.string().nullable().default("c2-server").describe("classification.type of every event (unless a column sets it)"),
}).strict();

export type Params = z.infer<typeof params>;

/** Python's str.split(sep), where no separator splits at runs of whitespace. */
function pySplit(s: string, sep: string | null): string[] {
  if (sep === null) return s.split(/[\s\u001c-\u001f]+/).filter((w) => w !== "");
  if (sep === "") throw new ConfigurationError("html_table", "split_separator is empty");
  return s.split(sep);
}

function create(prm: Params, ctx: BotContext) {
  const columns = prm.columns;
  const ignore = prm.ignore_values ?? columns.map(() => "");
  if (ignore.length !== columns.length) {
    throw new ConfigurationError("html_table", `the parameters columns (${columns.length}) and ignore_values (${ignore.length}) differ in length`);
  }
  const toTime = timeConverter(prm.time_format);
  const fuzzy = !prm.time_format || prm.time_format === "fuzzy";
  const keysOf = columns.map((c) => c.split("|"));

  function value(key: string, data: string): unknown {
    if (key === "time.source" || key === "time.destination") {
      if (/^[+-]?\d+$/.test(data)) {
        // IntelMQ hands an integer to the conversion: fine for timestamps, an error for fuzzy parsing
        if (fuzzy) throw new LineError(`${key}: the integer ${data} is no time to parse fuzzily (set time_format)`);
        return (toTime as (v: unknown) => string | null)(Number(data));
      }
      return toTime(data);
    }
    if (key.endsWith(".url") && !data.includes("://")) return prm.default_url_protocol + data;
    return data;
  }

  return {
    *parse(report: Report): Iterable<HtmlElement | SkippedLine> {
      const doc = parseHtml(reportText(report));
      const attr = prm.attribute_name ? { name: prm.attribute_name, value: prm.attribute_value } : undefined;
      const tables = findAllHtml(doc, "table", attr);
      const index = prm.table_index < 0 ? tables.length + prm.table_index : prm.table_index;
      const table = tables[index];
      if (!table) {
        throw new DecodingError(`html_table: the report has ${tables.length} table(s)${attr ? ` with ${attr.name}=${JSON.stringify(attr.value)}` : ""}, `
          + `no table number ${prm.table_index}`, { object: "table_index" });
      }
      const rows = findAllHtml(table, "tr");
      if (rows.length === 0) yield skipLine(htmlOuter(table), "the table has no rows");
      for (const [i, row] of rows.entries()) {
        if (i === 0 && prm.skip_table_head) yield skipLine(htmlOuter(row), "table head");
        else yield row;
      }
    },

    parseLine(row: HtmlElement, report: Report) {
      const event = ctx.newEvent(report);
      const cells = findAllHtml(row, "td").map((td) => htmlText(td));
      let added = false;
      const n = Math.min(columns.length, cells.length);
      for (let c = 0; c < n; c++) {
        let data = cells[c]!.trim();
        if (data === ignore[c]) continue;
        const keys = keysOf[c]!;
        let done = false;
        for (const key of keys) {
          if (data === "" || key === "__IGNORE__" || key === "") { done = true; break; }
          if (prm.split_column && key === prm.split_column) {
            const parts = pySplit(data, prm.split_separator);
            const at = prm.split_index < 0 ? parts.length + prm.split_index : prm.split_index;
            if (at < 0 || at >= parts.length) throw new LineError(`${key}: ${JSON.stringify(data)} has no part ${prm.split_index} when split`);
            data = parts[at]!.trim();
          }
          const v = value(key, data);
          if (event.add(key, v, { raiseFailure: false })) { added = true; done = true; break; }
        }
        if (!done) throw new LineError(`no valid value for ${keys.join(" or ")} in ${JSON.stringify(data)}`);
      }
      if (!added) return skipLine(htmlOuter(row), "no value in the row's cells");
      if (prm.type !== null && !event.has("classification.type")) event.add("classification.type", prm.type);
      event.add("raw", htmlOuter(row));
      return event;
    },

    recoverLine(row: HtmlElement): string {
      return htmlOuter(row);
    },
  };
}

export default defineParser({
  name: "html_table",
  intelmq: "intelmq.bots.parsers.html_table.parser",
  description: "Parse the rows of a table of an HTML page into events, one column per field",
  params,
  create,
});
