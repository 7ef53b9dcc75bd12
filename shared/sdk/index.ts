// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bot-facing entry of the SDK: everything a bot of services/ (or an operator's own bot)
 * imports, from one place. Declare a bot with defineBot() (defineParser<Row>() for parsers),
 * its parameters with zod and the `p` coercers, and test it with runBot() in library mode.
 */
export {
  defineBot, defineParser, z, p, collectorParams, parserParams, httpParams,
  commentHeader, defaultLines, rawLines, reportText, skipLine, SkippedLine, excerpt, addRequired, LineError, normaliseEmit,
  outputParams, exportEventText, exportEventDict,
  INTELMQ_ROOT, appendOutput, encodeErrors, encodingErrorsMode, eventFilename, outputPath, writeAllSync, Journal,
  PyDateTime, pyFormat, strftime,
  runBot, createLibraryBot,
  jsonReport, jsonList, jsonItems, emptyList, jsonObject, jsonStreamLines, jsonLine, isJsonObject, jsonKind,
  parseHtml, findAllHtml, htmlText, htmlOuter, isHtmlText,
} from "../runtime/index.js";
export type {
  BotContext, BotDefinition, CollectorImpl, Emit, EventMeta, ExpertImpl, InputRef, OutputImpl, ParserImpl, ParserDefinition, Routed, RuntimeParams,
  ExportOptions, AppendOutputOptions, FormatArg, LibraryResult, RunBotOptions,
  HtmlDocument, HtmlElement, HtmlNode,
} from "../runtime/index.js";
export { Event, Message, Report, messageFromDict } from "../message/index.js";
export {
  ConfigurationError, DecodingError, ErrorCode, InvalidArgument, InvalidKey, InvalidValue, KeyExists, MissingDependencyError, PipelineError,
  errorMessage, hasCode,
} from "../errors/index.js";
export {
  types, urlsplit, urlunsplit, parseIp, parseNetwork, pyRegex, pyStr, pyStrip, pyEquals, pyCompare, PyFloat,
  isoformat, parseFuzzy, pyJsonDumps, pyRepr, fromTimestamp, fromEpochMillis, fromWindowsNt, callTypeMethod, dateutilParse,
} from "../harmonization/index.js";
export type { IpAddr, IpNet } from "../harmonization/index.js";
