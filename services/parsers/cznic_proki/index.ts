// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CZ.NIC PROKI parser: the JSON events of malicious IP addresses on Czech networks, whose keys are
 * IntelMQ's own field names (IntelMQ's intelmq.bots.parsers.cznic.parser_proki).
 */
import { z } from "zod";
import { DecodingError, defineParser, jsonKind, jsonListItems, jsonRecover, parserParams, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Fields of the source's own pipeline, kept under another name: the event's are this feed's. */
const RENAMED: Readonly<Record<string, string>> = {
  "feed.name": "extra.original_feed_name",
  "time.observation": "extra.original_time_observation",
};

export default defineParser({
  name: "cznic_proki",
  intelmq: "intelmq.bots.parsers.cznic.parser_proki",
  description: "Parses CZ.NIC PROKI events (JSON, keys already IntelMQ fields)",
  params,
  create: (_prm, ctx) => ({
    // the API answers {"status": ..., "data": [...]}; a bare list is taken too
    parse: (report: Report) => jsonListItems(report, "cznic_proki", { key: "data" }),
    parseLine(item: unknown, report) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new DecodingError(`${jsonKind(item)} in the list where an event (JSON object) was expected`, { object: item });
      }
      const event = ctx.newEvent(report);
      for (const [k, v] of Object.entries(item)) event.add(RENAMED[k] ?? k, v);
      event.add("raw", jsonRecover(item));
      return event;
    },
    recoverLine: (item: unknown) => jsonRecover(item),
  }),
});
