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
  runBot, createLibraryBot, ReportStream, isPrivateAddress, privateTarget, DnsClient, DnsLookupError, LookupCache as DnsCache, dnsParams, reverseLabels, reverseName, databaseCheck, databaseCommands, databasePath, readDatabase, replaceFile, watchDatabase,
  jsonReport, jsonList, jsonItems, emptyList, jsonObject, jsonStreamLines, jsonLine, isJsonObject, jsonKind,
  parseHtml, findAllHtml, htmlText, htmlOuter, isHtmlText,
} from "../runtime/index.js";
export type {
  BotCheckContext, BotCheckLine, BotContext, BotDefinition, CollectorImpl, Emit, EventMeta, ExpertImpl, InputRef, OutputImpl, ParserImpl, ParserDefinition, Routed, RuntimeParams, ExportOptions, AppendOutputOptions, FormatArg, LibraryResult, RunBotOptions, Settlement, BotCommand, BotCommandEnv,
  DnsOptions, DatabaseSpec,
  HtmlDocument, HtmlElement, HtmlNode,
} from "../runtime/index.js";
export { Event, Message, Report, messageFromDict } from "../message/index.js";
export {
  ConfigurationError, DecodingError, ErrorCode, InvalidArgument, InvalidKey, InvalidValue, KeyExists, MissingDependencyError, PipelineError, PythonError,
  errorMessage, hasCode,
} from "../errors/index.js";
export {
  types, urlsplit, urlunsplit, parseIp, parseNetwork, pyRegex, pyStr, pyStrip, pyEquals, pyCompare, pyJsonDumps, PyFloat, pyRepr, pyParseInt, pyParseFloat,
  isoformat, parseFuzzy, fromTimestamp, fromEpochMillis, fromWindowsNt, callTypeMethod, dateutilParse,
} from "../harmonization/index.js";
export type { Harmonization, IpAddr, IpNet } from "../harmonization/index.js";
export { httpClient, lookupCache, HttpStatusError, HttpTimeout, MalformedResponse } from "./http.js";
export type { HttpClient, HttpOptions, HttpRequest, HttpResponse, LookupCache } from "./http.js";
export { parseRelative } from "./relative.js";
export type { KvStore } from "../broker/index.js";
