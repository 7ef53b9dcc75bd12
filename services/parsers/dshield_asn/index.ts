// SPDX-License-Identifier: AGPL-3.0-only
/**
 * DShield AS parser: the tab-separated list of attacking addresses of one AS
 * (asdetailsascii.html?as=<number>), IntelMQ's intelmq.bots.parsers.dshield.parser_asn.
 */
import { z } from "zod";
import { DecodingError, type Report, defineParser, excerpt, LineError, parserParams, reportText, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** source IP, reports, targets, first seen, last seen, updated */
const COLUMNS = 6;

/** A line of nothing but HTML tags (the page around the list). */
const MARKUP = /^(?:<[^<>]*>\s*)+$/;

/** Python's int() of a decimal text, or null. */
const toInt = (s: string): number | null => (/^\s*[+-]?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : null);

export default defineParser({
  name: "dshield_asn",
  intelmq: "intelmq.bots.parsers.dshield.parser_asn",
  description: "Parses the DShield list of attacking addresses of an AS",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report) {
      // Lines are kept as they are: an event's raw is its line unchanged.
      let inComment = false;
      for (const line of reportText(report).split(/\r\n|\r|\n/)) {
        const t = line.trim();
        if (inComment) {
          inComment = !t.includes("-->");
          yield skipLine(line, "HTML comment");
        } else if (line.startsWith("#")) {
          yield skipLine(line, "comment");
        } else if (t.startsWith("<!--")) {
          inComment = !t.slice(4).includes("-->");
          yield skipLine(line, "HTML comment");
        } else if (MARKUP.test(t)) {
          yield skipLine(line, "HTML markup");
        } else if (t !== "") {
          yield line;
        }
      }
    },
    parseLine(item, report) {
      const row = String(item);
      const values = row.split("\t");
      if (values.length < COLUMNS) {
        throw new LineError(`a record has ${COLUMNS} tab-separated columns (source IP, reports, targets, first seen, last seen, updated),`
          + ` this line ${values.length}: ${excerpt(row)}`);
      }
      const url = String(report.get("feed.url") ?? "");
      const asText = url.includes("?as=") ? url.slice(url.lastIndexOf("?as=") + 4) : "";
      const asn = toInt(asText);
      if (asn === null) throw new DecodingError(`the AS number is taken from feed.url "...?as=<number>", got ${JSON.stringify(url)}`, { object: row });
      // The feed pads each byte of the address to three digits.
      const octets = values[0]!.split(".").map(toInt);
      if (octets.some((o) => o === null)) throw new DecodingError(`source IP ${JSON.stringify(values[0])} is no dotted address`, { object: row });
      const reports = toInt(values[1]!);
      const targets = toInt(values[2]!);
      if (reports === null || targets === null) throw new DecodingError("reports and targets must be numbers", { object: row });
      const event = ctx.newEvent(report);
      event.add("source.ip", octets.join("."));
      event.add("source.asn", asn);
      event.add("classification.type", "brute-force");
      event.add("time.source", `${values[5]}+0`);
      event.add("raw", row);
      event.add("extra", { reports, targets, last_seen: values[4] });
      return event;
    },
  }),
});
