// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Reports of JSON for parsers: a whole report as one JSON document (IntelMQ's parse_json reads a
 * list of items), or one JSON value per line (parse_json_stream). A report that is not JSON at all
 * fails as a whole with a reason naming the parser; a bad line of a stream fails alone.
 */
import { DecodingError, LineError } from "../errors/index.js";
import type { Report } from "../message/index.js";
import { reportText, skipLine, type SkippedLine } from "./parser-driver.js";
import { LINE_SPLIT } from "./util.js";
import { jsonKind } from "./parse-formats.js";

/** The report's raw as one JSON document; DecodingError ("<parser>: ...") where it is none. */
export function jsonReport(report: Report, parser: string): unknown {
  const text = reportText(report);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodingError(`${parser}: the report is not JSON: ${(err as Error).message}`, { object: text.slice(0, 200), cause: err });
  }
}

/** The items of a report holding a JSON list; DecodingError ("<parser>: ...") for anything else. */
export function jsonList(report: Report, parser: string): unknown[] {
  const doc = jsonReport(report, parser);
  if (!Array.isArray(doc)) throw new DecodingError(`${parser}: the report is not a JSON list but ${jsonKind(doc)}`, { object: jsonKind(doc) });
  return doc;
}

/** The items of a report holding a JSON list, as jsonList(); an empty list is declared skipped. */
export function* jsonItems(report: Report, parser: string): Generator<unknown> {
  const list = jsonList(report, parser);
  if (list.length === 0) yield emptyList(report);
  yield* list;
}

/** The declared skip of a report holding an empty JSON list. */
export function emptyList(report: Report): SkippedLine {
  return skipLine(reportText(report), "an empty JSON list");
}

/** The report's raw as a JSON object; DecodingError ("<parser>: ...") for anything else. */
export function jsonObject(report: Report, parser: string): Record<string, unknown> {
  const doc = jsonReport(report, parser);
  if (!isJsonObject(doc)) throw new DecodingError(`${parser}: the report is not a JSON object but ${jsonKind(doc)}`, { object: jsonKind(doc) });
  return doc;
}

/** The non-blank lines of a JSON stream (one value per line), to be read by jsonLine(). */
export function* jsonStreamLines(report: Report): Generator<string> {
  for (const line of reportText(report).split(LINE_SPLIT)) if (line.trim() !== "") yield line;
}

/** One line of a JSON stream as an object; LineError where it is none. */
export function jsonLine(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new LineError(`the line is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isJsonObject(v)) throw new LineError(`the line is not a JSON object but ${jsonKind(v)}`);
  return v;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
