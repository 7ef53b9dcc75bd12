// SPDX-License-Identifier: AGPL-3.0-only
/**
 * ESET parser: the JSON lists of ESET's Threat Intelligence TAXII feeds (domains and URLs), one
 * event per entry; which feed it is comes from the report's extra.eset_feed, which the ESET
 * collector sets (IntelMQ's intelmq.bots.parsers.eset.parser).
 */
import { z } from "zod";
import {
  DecodingError, LineError, defineParser, jsonKind, jsonListItems, jsonRecover, parserParams, pyDumpsLoaded, type Event, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

type Json = Record<string, unknown>;

/** ESET's reason -> classification.type; a C&C reason and anything else are handled in taxonomy(). */
const REASONS: Readonly<Record<string, string>> = {
  "Host actively distributes high-severity threat in the form of executable code.": "malware-distribution",
  "Host is known to be distributing low-risk and potentially unwanted content.": "malware-distribution",
  "Host is known source of phishing or other fraudulent content.": "phishing",
  "Host is known to be actively distributing adware or other medium-risk software.": "other",
  "Host is known source of active fraudulent content.": "other",
};

export function taxonomy(reason: string): string {
  return REASONS[reason] ?? (reason.startsWith("Host is used as command and control server") ? "c2-server" : "other");
}

function required(o: Json, key: string): unknown {
  if (!(key in o)) throw new LineError(`the entry has no "${key}"`);
  return o[key];
}

/** Per feed: what its entries add besides the common fields. */
const FEEDS: Readonly<Record<string, (event: Event, entry: Json) => void>> = {
  "ei.urls (json)": (event, entry) => {
    event.add("time.source", required(entry, "domain_last_seen"));
    event.add("source.url", required(entry, "url"));
  },
  "ei.domains v2 (json)": (event, entry) => {
    event.add("time.source", required(entry, "last_seen"));
  },
};

export default defineParser({
  name: "eset",
  intelmq: "intelmq.bots.parsers.eset.parser",
  description: "Parses ESET Threat Intelligence feeds (domains, URLs) in JSON",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => jsonListItems(report, "eset"),
    parseLine(item: unknown, report) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new DecodingError(`${jsonKind(item)} in the list where an entry (JSON object) was expected`, { object: item });
      }
      const entry = item as Json;
      const event = ctx.newEvent(report);
      const reason = required(entry, "reason");
      event.add("raw", pyDumpsLoaded(entry, { sortKeys: true }));
      event.add("event_description.text", reason);
      event.add("classification.type", taxonomy(String(reason)));
      // the domain may be an address
      event.add("source.fqdn", required(entry, "domain"), { raiseFailure: false });
      const ip = required(entry, "ip");
      if (ip && !(typeof ip === "string" && ip.endsWith("_NXDOMAIN"))) event.add("source.ip", ip);
      const feed = report.get("extra.eset_feed");
      if (feed === undefined) throw new LineError("the report has no extra.eset_feed, which names the feed");
      event.add("extra.eset_feed", feed, { overwrite: true });
      const add = FEEDS[String(feed)];
      if (!add) throw new LineError(`unsupported feed ${JSON.stringify(feed)}`);
      add(event, entry);
      return event;
    },
    recoverLine: (item: unknown) => jsonRecover(item),
  }),
});
