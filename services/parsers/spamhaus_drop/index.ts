// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Spamhaus DROP parser: the DROP, EDROP and DROPv6 network lists and the ASN-DROP list, told
 * apart by the report's feed.url (IntelMQ's intelmq.bots.parsers.spamhaus.parser_drop).
 */
import { z } from "zod";
import { DecodingError, dateutilParse, isoformat, type Report, addRequired, defaultLines, defineParser, parserParams, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

export const NETWORK_DROP_URLS: ReadonlySet<string> = new Set([
  "https://www.spamhaus.org/drop/edrop.txt",
  "https://www.spamhaus.org/drop/dropv6.txt",
  "https://www.spamhaus.org/drop/drop.txt",
  "https://www.spamhaus.org/drop/drop.lasso",
]);
export const ASN_DROP_URLS: ReadonlySet<string> = new Set(["https://www.spamhaus.org/drop/asndrop.txt"]);

/** Python's str.strip(chars). */
const stripChars = (s: string, chars: string) => {
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a]!)) a++;
  while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
};

export default defineParser({
  name: "spamhaus_drop",
  intelmq: "intelmq.bots.parsers.spamhaus.parser_drop",
  description: "Parses the Spamhaus DROP, EDROP, DROPv6 and ASN-DROP lists",
  params,
  create: (_prm, ctx) => {
    // Comment lines ("; ...") are kept to rebuild failed lines; the Last-Modified one dates the list.
    let header: string[] = [];
    let lastModified: string | null = null;
    return {
      *parse(report: Report) {
        header = [];
        lastModified = null;
        yield* defaultLines(report);
      },
      parseLine(item, report) {
        const line = String(item);
        if (line.startsWith(";")) {
          header.push(line);
          if (line.includes("Last-Modified:")) {
            const text = stripChars(line, "; ").slice(15);
            // as IntelMQ, read without fuzzy: the whole text must be a date
            const time = dateutilParse(text, { fuzzy: false });
            if (!time) throw new DecodingError(`unreadable Last-Modified date ${JSON.stringify(text)}`, { object: line });
            lastModified = isoformat(time);
          }
          return skipLine(line, "comment");
        }
        const event = ctx.newEvent(report);
        if (lastModified) event.add("time.source", lastModified);
        event.add("classification.type", "spam");
        event.add("raw", line);
        const url = String(report.get("feed.url") ?? "");
        if (NETWORK_DROP_URLS.has(url)) {
          // "<network> ; <SBL id>"
          const value = line.split(";");
          if (value.length < 2) throw new DecodingError("network line without \"; <blocklist id>\"", { object: line });
          addRequired(event, "source.network", value[0]!.trim());
          event.add("extra.blocklist", value[1]!.trim());
        } else if (ASN_DROP_URLS.has(url)) {
          // "AS<number> ; <country> | <AS name>"
          const value = line.replace(/\|/g, ";").split(";");
          if (value.length < 3) throw new DecodingError("ASN line is not \"AS<number> ; <country> | <AS name>\"", { object: line });
          addRequired(event, "source.asn", stripChars(value[0]!, "AS").trim());
          event.add("source.as_name", value[2]!.trim());
          event.add("source.geolocation.cc", value[1]!.trim());
        } else {
          throw new DecodingError(`Unknown data feed ${url}.`, { object: line });
        }
        return event;
      },
      recoverLine(item) {
        return [...header, String(item)].join("\n");
      },
    };
  },
});
