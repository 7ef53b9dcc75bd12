// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's parse_csv_dict for the parsers of CSV feeds with a header row (turris, zoneh): the
 * report stripped, NULs dropped, lines starting with an ignored prefix left out, the first record
 * the field names, each following record a dict (missing fields null, surplus fields under "").
 */
import { DecodingError, reportText, skipLine, type Report, type SkippedLine } from "../../../shared/sdk/index.js";
import { readRecords, writeRow } from "../generic_csv/csv.js";

export interface CsvDictRow {
  /** Field name -> value; null for a field the record lacks. */
  values: Record<string, string | null>;
  /** Values beyond the header's fields (Python's restkey). */
  rest: string[];
  /** The record's text as it was (without its line terminator). */
  text: string;
  /** The same with its line terminator, if it had one (the report's last record has none). */
  line: string;
  /** The header record's text, the field names and the report's line ending. */
  headerText: string;
  fields: string[];
  lineEnding: string;
}

/**
 * The records of a CSV report with a header row, and the ignored lines as declared skips. A header
 * without one of the `required` columns fails the report as a whole (it is not the feed's).
 */
export function* csvDictRows(report: Report, parser: string, required: readonly string[], ignoreStarting: readonly string[] = []): Generator<CsvDictRow | SkippedLine> {
  let text = reportText(report).trim().replaceAll("\0", "");
  const lineEnding = text.includes("\r\n") ? "\r\n" : "\n";
  if (ignoreStarting.length) {
    const kept: string[] = [];
    for (const line of text.split(/(?<=\n)/)) {
      if (ignoreStarting.some((p) => line.startsWith(p))) yield skipLine(line.replace(/\r?\n$/, ""), "ignored start of line");
      else kept.push(line);
    }
    text = kept.join("");
  }
  const span = { start: 0, end: 0 };
  let fields: string[] | null = null;
  let headerText = "";
  const strip = (s: string) => s.replace(/(\r\n|\n|\r)$/, "");
  let records = 0;
  for (const record of readRecords(text, ",", 0, span)) {
    const line = text.slice(span.start, span.end);
    const raw = strip(line);
    if (fields === null) {
      fields = record;
      headerText = raw;
      const missing = required.filter((c) => !record.includes(c));
      if (missing.length) {
        throw new DecodingError(`${parser}: the header row ${JSON.stringify(raw.slice(0, 200))} lacks the column(s) ${missing.join(", ")}`, { object: raw });
      }
      continue;
    }
    // blank lines are no records (csv.DictReader)
    if (record.length === 0) continue;
    const values: Record<string, string | null> = {};
    fields.forEach((f, i) => { values[f] = i < record.length ? record[i]! : null; });
    records++;
    yield { values, rest: record.slice(fields.length), text: raw, line, headerText, fields, lineEnding };
  }
  if (records === 0 && fields !== null) yield skipLine(headerText, "a header without records");
}

/** A record as csv.DictWriter writes it after the header (IntelMQ's recover_line_csv_dict). */
export function writeDictRow(row: CsvDictRow): string {
  const header = writeRow(row.fields, ",", row.lineEnding);
  const values = row.fields.map((f) => row.values[f] ?? "");
  return (header + writeRow(values, ",", row.lineEnding)).trim();
}
