// SPDX-License-Identifier: AGPL-3.0-only
/**
 * DShield block list parser: the recommended block list of DShield, the top attacking /24
 * networks, tab separated, dated by the "updated:" line of its header (IntelMQ's
 * intelmq.bots.parsers.dshield.parser_block).
 */
import { z } from "zod";
import { DecodingError, dateutilParse, isoformat, type Report, defaultLines, defineParser, excerpt, LineError, parserParams, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Python's int() of a decimal text, or null. */
const toInt = (s: string): number | null => (/^\s*[+-]?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : null);

export default defineParser({
  name: "dshield_block",
  intelmq: "intelmq.bots.parsers.dshield.parser_block",
  description: "Parses the DShield recommended block list",
  params,
  create: (_prm, ctx) => {
    // The list's date from its header, for every network of the report.
    let updated: string | null = null;
    let updatedError: string | null = null;
    return {
      *parse(report: Report) {
        updated = null;
        updatedError = null;
        for (const line of defaultLines(report)) {
          if (line.startsWith("#") || line.startsWith("Start")) {
            if (line.includes("updated")) {
              const text = line.slice(line.indexOf(": ") + 2);
              // as IntelMQ, read without fuzzy: the whole text must be a date
              const time = dateutilParse(text, { fuzzy: false });
              if (time) updated = isoformat(time);
              else updatedError = `unreadable date in the header line ${JSON.stringify(line)}`;
            }
            yield skipLine(line, line.startsWith("#") ? "comment" : "column names");
            continue;
          }
          yield line;
        }
      },
      parseLine(item, report) {
        const row = String(item);
        // start, end, netblock (prefix length), attacks, network name, country, e-mail
        const values = row.split("\t");
        if (values.length < 3) {
          throw new LineError(`a record has at least 3 tab-separated columns (start, end, prefix length), this line ${values.length}: ${excerpt(row)}`);
        }
        if (!updated) throw new DecodingError(updatedError ?? "the header has no \"updated:\" date for the list", { object: row });
        const event = ctx.newEvent(report);
        const extra: Record<string, unknown> = {};
        if (values.length > 3) {
          const attacks = toInt(values[3]!);
          if (attacks === null) throw new DecodingError(`number of attacks ${JSON.stringify(values[3])} is no number`, { object: row });
          extra.attacks = attacks;
        }
        if (values.length > 4) extra.network_name = values[4];
        if (values.length > 5) event.add("source.geolocation.cc", values[5], { overwrite: true });
        if (values.length > 6) event.add("source.abuse_contact", values[6], { overwrite: true });
        if (Object.keys(extra).length) event.add("extra", extra);
        event.add("time.source", updated);
        event.add("source.network", `${values[0]}/${values[2]}`);
        event.add("classification.type", "blacklist");
        event.add("raw", row);
        return event;
      },
    };
  },
});
