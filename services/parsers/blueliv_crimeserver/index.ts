// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Blueliv Crimeserver parser: the JSON list of crime servers of Blueliv's API, one event per
 * entry (IntelMQ's intelmq.bots.parsers.blueliv.parser_crimeserver).
 */
import { z } from "zod";
import { DecodingError, LineError, defineParser, jsonKind, jsonListItems, jsonRecover, parserParams, pyDumpsLoaded, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Blueliv's type -> classification.type. */
export const TYPES: Readonly<Record<string, string>> = {
  PHISHING: "phishing",
  MALWARE: "malware-distribution",
  EXPLOIT_KIT: "exploit",
  BACKDOOR: "system-compromise",
  TOR_IP: "proxy",
  C_AND_C: "c2-server",
};

type Json = Record<string, unknown>;

export default defineParser({
  name: "blueliv_crimeserver",
  intelmq: "intelmq.bots.parsers.blueliv.parser_crimeserver",
  description: "Parses the Blueliv Crimeserver JSON list: phishing, malware, exploit kit, backdoor, Tor and C&C servers",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => jsonListItems(report, "blueliv_crimeserver"),
    parseLine(item: unknown, report) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new DecodingError(`${jsonKind(item)} in the list where an entry (JSON object) was expected`, { object: item });
      }
      const entry = item as Json;
      const event = ctx.newEvent(report);
      let tor = false;
      if ("type" in entry) {
        const type = TYPES[String(entry.type)];
        if (!type) throw new LineError(`unknown type ${JSON.stringify(entry.type)}`);
        event.add("classification.type", type);
        if (entry.type === "TOR_IP") {
          event.add("source.tor_node", true);
          tor = true;
        }
      }
      // Tor entries repeat the address in "url": left out when it is no URL
      if ("url" in entry) event.add("source.url", entry.url, { raiseFailure: !tor });
      if ("ip" in entry) event.add("source.ip", entry.ip);
      if ("country" in entry) event.add("source.geolocation.cc", entry.country);
      // "2015-12-09T04:43:29+0000": the offset written with a colon
      if ("lastSeenAt" in entry) event.add("time.source", `${String(entry.lastSeenAt).slice(0, -4)}00:00`);
      const extra: Json = {};
      if ("status" in entry) extra.status = entry.status;
      if ("confidence" in entry) extra.confidence = entry.confidence;
      if ("updatedAt" in entry) extra.time_updated = entry.updatedAt;
      if ("firstSeenAt" in entry) extra.time_first_seen = entry.firstSeenAt;
      // IntelMQ fails an entry with none of these (an empty extra is invalid): here it goes out without
      if (Object.keys(extra).length) event.add("extra", extra);
      event.add("raw", pyDumpsLoaded(entry, { sortKeys: true }));
      return event;
    },
    recoverLine: (item: unknown) => jsonRecover(item),
  }),
});
