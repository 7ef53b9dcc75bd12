// SPDX-License-Identifier: AGPL-3.0-only
/** Public entry of the bot runtime: defineBot, parameters, the engine, library mode, logging, output options, Python formatting. */
export { BotKind } from "./types.js";
export type {
  BotCheckContext, BotCheckLine, BotContext, BotDefinition, EventMeta, CollectorImpl, Emit, ExpertImpl, ImplByKind, InputRef, Lifecycle, OutputImpl, ParserImpl, Routed, RuntimeParams, BotCommand, BotCommandEnv,
} from "./types.js";
import type { z } from "zod";
import type { BotContext, BotDefinition, BotKind, ParserImpl } from "./types.js";
export { p, collectorParams, parserParams, httpParams } from "./params.js";
export { ReportStream, type Settlement } from "./report-stream.js";
export { isPrivateAddress, privateTarget } from "./net-guard.js";
export { runtimeParamsSchema, resolveParams, normaliseDestinationQueues, isGlobalKey, RUNTIME_KEYS } from "./runtime-params.js";
export type { ResolvedParams, FeedParams, ParserParams } from "./runtime-params.js";
export { createLogger, redactParams, pinoLevel, HIDDEN } from "./logger.js";
export type { LoggerOptions } from "./logger.js";
export { startBot, defaultRootDir } from "./runner.js";
export type { BotHandle, BotState, BotStats, BotEvents, StartBotOptions } from "./handle.js";
export type { SettledInfo } from "./consumer.js";
export { envelopes, ENVELOPE_MAX_BYTES, type OutputInfo } from "./steps/outbox.js";
export { quantile, LATENCY_BOUNDS_MS, type Histogram } from "./steps/stats.js";
export { createLibraryBot, runBot } from "./library.js";
export type { LibraryBot, LibraryBotOptions, LibraryInput, LibraryResult, RunBotOptions } from "./library.js";
export { addRequired, commentHeader, defaultLines, excerpt, normaliseEmit, rawLines, reportItems, reportText, skipLine, SkippedLine } from "./parser-driver.js";
export { isLargeRaw, overWindows, reportLines, reportWindows, type RawWindow } from "./raw-text.js";
export { csvDictRows, jsonKind, jsonLines, jsonListItems, jsonRecover, jsonStream, jsonValue, reportJson } from "./parse-formats.js";
export type { CsvDictOptions, CsvDictRow, JsonListOptions, JsonText } from "./parse-formats.js";
export { pyDumpsLoaded, pyJsonLoads } from "./pyjson.js";
export { parseXml, xmlIter, xmlToDict, xmlToString, XmlError } from "./xml.js";
export type { XmlElement } from "./xml.js";
export { CsvError, pyLineEnding, pyLinesKeepEnds, readCsv, writeCsvRow, QUOTE_ALL, QUOTE_MINIMAL, QUOTE_NONE, QUOTE_NONNUMERIC } from "./csv-dialect.js";
export type { CsvDialect, CsvRecord } from "./csv-dialect.js";
/** A line a parser cannot make an event of: throw it from parseLine() (it is one of the errors of shared/errors). */
export { LineError } from "../errors/index.js";
export { jsonReport, jsonList, jsonItems, emptyList, jsonObject, jsonStreamLines, jsonLine, isJsonObject } from "./json-reports.js";
export { parseHtml, findAllHtml, htmlText, htmlOuter, isHtmlText } from "./parse-html.js";
export type { HtmlDocument, HtmlElement, HtmlNode } from "./parse-html.js";
export { outputParams, exportEventText, exportEventLine, exportEventDict } from "./output-options.js";
export type { ExportOptions } from "./output-options.js";
export { INTELMQ_ROOT, appendOutput, encodeErrors, encodingErrorsMode, eventFilename, outputPath, writeAllSync } from "./output-files.js";
export type { AppendOutputOptions } from "./output-files.js";
export { PyDateTime, pyFormat, strftime } from "./pyformat.js";
export { Journal } from "./journal.js";
export type { FormatArg } from "./pyformat.js";
export { startBotControl, connectWithRetry, instanceHost, instanceState, watchParent } from "./control.js";
export type { BotControl, BotControlOptions, ConnectSettings } from "./control.js";
export { DnsClient, DnsLookupError, LookupCache, dnsParams, reverseLabels, reverseName } from "./dns.js";
export type { DnsOptions } from "./dns.js";
export { databaseCheck, databaseCommands, databasePath, readDatabase, redactUrl, replaceFile, unpack, updateDatabase, watchDatabase } from "./databases.js";
export type { DatabaseSource, DatabaseSpec, UpdateResult } from "./databases.js";

/** The SDK's zod, for parameter schemas: an operator's own bot needs no copy of its own. */
export { z } from "zod";

/** Declare a bot. The default export of services/<kind>/<name>/index.ts. */
export function defineBot<K extends BotKind, S extends z.ZodType>(def: BotDefinition<K, S>): BotDefinition<K, S> {
  return def;
}

/** What defineParser() takes: a parser bot whose create() returns a ParserImpl over rows of type Row. */
export interface ParserDefinition<Row, S extends z.ZodType> extends Omit<BotDefinition<"parser", S>, "kind" | "create"> {
  create(params: z.infer<S>, ctx: BotContext): ParserImpl<Row> | Promise<ParserImpl<Row>>;
}

/**
 * Declare a parser whose parse() yields rows of type Row (lines by default) and whose
 * parseLine() and recoverLine() take that type; Row is inferred from parseLine's parameter.
 */
export function defineParser<S extends z.ZodType, Row = string>(def: ParserDefinition<Row, S>): BotDefinition<"parser", S> {
  return { ...def, kind: "parser", create: def.create as BotDefinition<"parser", S>["create"] };
}
