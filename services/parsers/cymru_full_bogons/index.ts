// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Team Cymru full bogons parser: the IPv4 and IPv6 full bogon lists, one unallocated network
 * per line, dated by the first line (IntelMQ's intelmq.bots.parsers.cymru.parser_full_bogons).
 */
import { z } from "zod";
import { DecodingError, dateutilParse, isoformat, type Report, addRequired, defineParser, parserParams, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

export default defineParser({
  name: "cymru_full_bogons",
  intelmq: "intelmq.bots.parsers.cymru.parser_full_bogons",
  description: "Parses the Team Cymru full bogons lists (IPv4 and IPv6)",
  params,
  create: (_prm, ctx) => {
    // The first line ("# last updated <epoch> (<date>)") dates the list and heads every event's raw.
    let firstRow = "";
    let updated = "";
    const recover = (line: string) => `${firstRow}\n${line}`;
    return {
      *parse(report: Report) {
        const raw = report.get("raw");
        const text = (typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "").trim();
        if (text === "") return;
        const lines = text.split(/\r\n|\r|\n/);
        firstRow = lines[0]!;
        const open = firstRow.indexOf("(");
        const close = firstRow.indexOf(")");
        // as IntelMQ, read without fuzzy: the whole text in parentheses must be a date
        const time = open >= 0 && close > open ? dateutilParse(firstRow.slice(open + 1, close), { fuzzy: false }) : null;
        // Without its date the list cannot be used at all: the whole report fails, as in IntelMQ.
        if (!time) throw new DecodingError(`the first line has no "(<date>)" of the list: ${JSON.stringify(firstRow)}`, { object: firstRow });
        updated = isoformat(time);
        for (const line of lines) yield line.trim();
      },
      parseLine(item, report) {
        const line = String(item);
        if (line.startsWith("#") || line.startsWith("//")) return skipLine(line, "comment");
        const event = ctx.newEvent(report);
        // A single address is listed as such, anything else must be a network.
        if (!event.add("source.ip", line, { raiseFailure: false })) addRequired(event, "source.network", line);
        event.add("time.source", updated);
        event.add("classification.type", "blacklist");
        event.add("raw", recover(line));
        return event;
      },
      recoverLine(item) {
        return recover(String(item));
      },
    };
  },
});
