// SPDX-License-Identifier: AGPL-3.0-only
/**
 * OpenPhish commercial feed parser: one JSON object per line, each a phishing URL with its host,
 * network, brand and kit (IntelMQ's intelmq.bots.parsers.openphish.parser_commercial).
 */
import { z } from "zod";
import {
  DecodingError, dateutilParse, defineParser, isoformat, jsonLine, jsonStreamLines, parserParams, pyJsonDumps, type BotContext, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const NO_FAIL = { raiseFailure: false };

/** dateutil's reading of a time, in ISO form; undefined where it reads none. */
function time(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = dateutilParse(v, { fuzzy: false });
  return t ? isoformat(t) : undefined;
}

/** The fields copied as they are, in IntelMQ's order. */
const PLAIN: readonly [string, string, boolean][] = [
  ["asn_name", "source.as_name", true], ["brand", "extra.brand", true],
  ["country_code", "source.geolocation.cc", false], ["country_name", "source.geolocation.country", false],
  ["emails", "extra.emails", true], ["family_id", "extra.family_id", true], ["host", "source.fqdn", false],
  ["ip", "source.ip", true], ["page_language", "extra.page_language", true], ["phishing_kit", "extra.phishing_kit", true],
  ["screenshot", "screenshot_url", false], ["sector", "extra.sector", true], ["ssl_cert_issued_by", "extra.ssl_cert_issued_by", true],
  ["ssl_cert_issued_to", "extra.ssl_cert_issued_to", true], ["ssl_cert_serial", "extra.ssl_cert_serial", true], ["tld", "extra.tld", true],
  ["url", "source.url", true],
];

function create(_prm: unknown, ctx: BotContext) {
  return {
    *parse(report: Report) {
      const lines = jsonStreamLines(report);
      const first = lines.next();
      if (first.done) return;
      // a feed of JSON objects, one per line: a report that does not even start with one is no such feed
      if (!first.value.trimStart().startsWith("{")) {
        throw new DecodingError(`openphish_commercial: the report is not JSON objects, one per line; it starts with ${JSON.stringify(first.value.slice(0, 40))}`, { object: first.value });
      }
      yield first.value;
      yield* lines;
    },

    parseLine(line: string, report: Report) {
      const item = jsonLine(line);
      const event = ctx.newEvent(report);
      const asn = item["asn"];
      // "AS12345"
      if (typeof asn === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(asn.slice(2))) event.add("source.asn", Number(asn.slice(2).replace(/_/g, "")), NO_FAIL);
      const when = item["isotime"] ? time(item["isotime"]) : item["discover_time"] ? time(item["discover_time"]) : undefined;
      if (when) event.add("time.source", when, NO_FAIL);
      event.add("classification.type", "phishing");
      for (const [from, to, required] of PLAIN) event.add(to, item[from], required ? {} : NO_FAIL);
      event.add("raw", pyJsonDumps([item]));
      return event;
    },

    recoverLine: (line: string) => line,
  };
}

export default defineParser({
  name: "openphish_commercial",
  intelmq: "intelmq.bots.parsers.openphish.parser_commercial",
  description: "Parse the OpenPhish commercial feed (one JSON object per line)",
  params,
  create,
});
