// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Abuse.ch Feodo Tracker parser: the JSON list of botnet C2 servers, one event per entry
 * (IntelMQ's intelmq.bots.parsers.abusech.parser_feodotracker).
 */
import { z } from "zod";
import {
  DecodingError, addRequired, defineParser, fromFormat, fromFormatMidnight, jsonKind, jsonListItems, jsonRecover, parserParams,
  type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

type Entry = Record<string, unknown>;
const truthy = (v: unknown) => v !== undefined && v !== null && v !== "" && v !== 0 && v !== false;

export default defineParser({
  name: "abusech_feodotracker",
  intelmq: "intelmq.bots.parsers.abusech.parser_feodotracker",
  description: "Parses the Abuse.ch Feodo Tracker JSON list of botnet C2 servers",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => jsonListItems(report, "abusech_feodotracker"),
    parseLine(item: unknown, report) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new DecodingError(`${jsonKind(item)} in the list where an entry (JSON object) was expected`, { object: item });
      }
      const entry = item as Entry;
      const event = ctx.newEvent(report);
      // the first-seen time, else midnight of the last day online; an unreadable time is left out
      try {
        if (truthy(entry.first_seen)) event.add("time.source", fromFormat(entry.first_seen, "%Y-%m-%d %H:%M:%S"), { raiseFailure: false });
        else if (truthy(entry.last_online)) event.add("time.source", fromFormatMidnight(entry.last_online, "%Y-%m-%d"), { raiseFailure: false });
      } catch (err) {
        ctx.log.warn({ err }, `Failed to parse '${String(entry.first_seen ?? entry.last_online)}' to DateTime.`);
      }
      event.add("classification.type", "c2-server");
      addRequired(event, "source.ip", entry.ip_address);
      event.add("source.port", entry.port);
      const optional: [string, unknown][] = [
        ["source.asn", entry.as_number], ["source.as_name", entry.as_name], ["source.geolocation.cc", entry.country],
        ["source.reverse_dns", entry.hostname], ["malware.name", entry.malware], ["extra.last_online", entry.last_online], ["status", entry.status],
      ];
      for (const [k, v] of optional) event.add(k, v, { raiseFailure: false });
      event.add("raw", jsonRecover(entry));
      return event;
    },
    recoverLine: (item: unknown) => jsonRecover(item),
  }),
});
