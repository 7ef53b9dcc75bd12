// SPDX-License-Identifier: AGPL-3.0-only
/** PhishTank parser: the JSON list of online, verified phishing sites (IntelMQ's intelmq.bots.parsers.phishtank.parser). */
import { z } from "zod";
import {
  LineError, dateutilParse, defineParser, isJsonObject, isoformat, jsonItems, jsonKind, parserParams, pyJsonDumps, type BotContext, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const NO_FAIL = { raiseFailure: false };

function create(_prm: unknown, ctx: BotContext) {
  return {
    parse: (report: Report) => jsonItems(report, "phishtank"),

    parseLine(item: unknown, report: Report) {
      if (!isJsonObject(item)) throw new LineError(`an entry is not a JSON object but ${jsonKind(item)}`);
      const event = ctx.newEvent(report);
      const submitted = item["submission_time"];
      if (submitted) {
        const t = typeof submitted === "string" ? dateutilParse(submitted, { fuzzy: false }) : null;
        if (t) event.add("time.source", isoformat(t), NO_FAIL);
        else ctx.log.warn(`Could not parse submission_time value ${JSON.stringify(submitted)}.`);
      }
      event.add("classification.type", "phishing");
      event.add("extra.phishtank.phish_id", item["phish_id"], NO_FAIL);
      event.add("source.url", item["url"]);
      event.add("event_description.url", item["phish_detail_url"], NO_FAIL);
      event.add("event_description.target", item["target"], NO_FAIL);
      // PhishTank lists online sites only
      event.add("status", "online", NO_FAIL);
      event.add("extra.phishtank.verified", item["verified"], NO_FAIL);
      event.add("extra.phishtank.verification_time", item["verification_time"], NO_FAIL);
      const details = item["details"];
      if (Array.isArray(details) && details.length > 0) {
        const d = details[0];
        if (!isJsonObject(d)) throw new LineError(`the first of "details" is not a JSON object but ${jsonKind(d)}`);
        event.add("source.ip", d["ip_address"], NO_FAIL);
        event.add("source.network", d["cidr_block"], NO_FAIL);
        event.add("source.asn", d["announcing_network"], NO_FAIL);
        event.add("source.geolocation.cc", d["country"], NO_FAIL);
      }
      event.add("raw", pyJsonDumps([item]));
      return event;
    },

    recoverLine: (item: unknown) => pyJsonDumps([item]),
  };
}

export default defineParser({
  name: "phishtank",
  intelmq: "intelmq.bots.parsers.phishtank.parser",
  description: "Parse the PhishTank feed (a JSON list of phishing sites)",
  params,
  create,
});
