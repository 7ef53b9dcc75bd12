// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Microsoft Bing malicious URLs parser: a JSON list of indicators (format version 1.5, threat type
 * MaliciousUrl), one event each (IntelMQ's intelmq.bots.parsers.microsoft.parser_bingmurls).
 */
import { z } from "zod";
import { LineError, defineParser, isJsonObject, jsonItems, jsonKind, parserParams, pyJsonDumps, pyRepr, type BotContext, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Indicator key -> field. */
export const MAPPING: Readonly<Record<string, string>> = {
  Attributable: "extra.attributable",
  Description: "event_description.text",
  IndicatorThreatType: "classification.identifier",
  TLPLevel: "tlp",
  FirstReportedDateTime: "time.source",
  NetworkDestinationAsn: "source.asn",
  NetworkDestinationIPv4: "source.ip",
  NetworkDestinationPort: "source.port",
  IsProductLicensed: "extra.isproductlicensed",
  IsPartnerShareable: "extra.ispartnershareable",
  Url: "source.url",
  IndicatorProvider: "extra.indicator_provider",
  IndicatorExpirationDateTime: "extra.indicator_expiration_date_time",
  ThreatDetectionProduct: "extra.threat_detection_product",
  Tags: "extra.tags",
};

/** The raw of an indicator: alone in a JSON list, keys sorted. */
const rawOf = (item: unknown) => pyJsonDumps([item], { sortKeys: true });

function create(_prm: unknown, ctx: BotContext) {
  return {
    parse: (report: Report) => jsonItems(report, "microsoft_bingmurls"),

    parseLine(item: unknown, report: Report) {
      if (!isJsonObject(item)) throw new LineError(`an indicator is not a JSON object but ${jsonKind(item)}`);
      if (item["Version"] !== 1.5) throw new LineError(`unknown format version ${pyRepr(item["Version"] ?? null)}, only version 1.5 is supported`);
      if (item["IndicatorThreatType"] !== "MaliciousUrl") {
        throw new LineError(`unknown IndicatorThreatType ${pyRepr(item["IndicatorThreatType"] ?? null)}, only MaliciousUrl is supported`);
      }
      const event = ctx.newEvent(report);
      for (const [key, value] of Object.entries(item)) {
        if (key === "LastReportedDateTime") {
          if (value !== item["FirstReportedDateTime"]) {
            throw new LineError("FirstReportedDateTime and LastReportedDateTime differ, which this format is not known to do");
          }
          continue;
        }
        if (key === "Version") continue;
        if (key === "NetworkDestinationIPv4" && (value === "0.0.0.0" || value === "255.255.255.255")) continue;
        if (key === "NetworkDestinationAsn" && value === 0) continue;
        if (key === "Tags" && Array.isArray(value) && value.length === 1) {
          // a single tag is the country; "??" for none
          if (value[0] !== "??") event.add("source.geolocation.cc", value[0]);
          continue;
        }
        if (key === "Tags") ctx.log.warn(`Field 'Tags' has ${Array.isArray(value) ? value.length : "no list of"} tags instead of one; saved as extra.tags.`);
        const field = MAPPING[key];
        if (!field) throw new LineError(`unknown key ${JSON.stringify(key)} in the indicator`);
        event.add(field, value, { overwrite: true });
      }
      event.add("classification.type", "blacklist");
      event.add("raw", rawOf(item));
      return event;
    },

    recoverLine: rawOf,
  };
}

export default defineParser({
  name: "microsoft_bingmurls",
  intelmq: "intelmq.bots.parsers.microsoft.parser_bingmurls",
  description: "Parse Microsoft's Bing malicious URLs (a JSON list of indicators)",
  params,
  create,
});
