// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Turris greylist parser: the CSV greylist of CZ.NIC's Turris routers (address and the tags of
 * what it was seen doing), an event per known tag (IntelMQ's intelmq.bots.parsers.turris.parser).
 */
import { z } from "zod";
import { LineError, defineParser, parserParams, skipLine, type BotContext, type Event, type Report, type SkippedLine } from "../../../shared/sdk/index.js";
import { csvDictRows, writeDictRow, type CsvDictRow } from "./csv-dict.js";

export const params = z.object({ ...parserParams }).strict();

// smtp runs on 25 and 587: no port for it
const PORTS: Readonly<Record<string, number>> = { ftp: 21, telnet: 23, http: 80 };
const BRUTE_FORCE = new Set(["smtp", "http", "ftp", "telnet"]);

function create(_prm: unknown, ctx: BotContext) {
  return {
    parse: (report: Report) => csvDictRows(report, "turris", ["Address", "Tags"], ["#"]),

    parseLine(row: CsvDictRow, report: Report): Event[] | SkippedLine {
      if (row.rest.length) throw new LineError(`the record has ${row.fields.length + row.rest.length} fields, the header ${row.fields.length}`);
      const tags = row.values["Tags"];
      if (tags === null) throw new LineError("the record has no Tags field");
      const raw = writeDictRow(row);
      const out: Event[] = [];
      for (const tag of (tags ?? "").split(",")) {
        const event = ctx.newEvent(report);
        if (BRUTE_FORCE.has(tag)) {
          event.add("protocol.transport", "tcp");
          event.add("protocol.application", tag);
          event.add("classification.type", "brute-force");
          event.add("destination.port", PORTS[tag] ?? null);
        } else if (tag === "port_scan") {
          event.add("classification.type", "scanner");
        } else {
          // haas, haas_logged, ...: CZ.NIC's HaaS feed has that data (SSH honeypot)
          continue;
        }
        event.add("raw", raw);
        event.add("source.ip", row.values["Address"] ?? null);
        out.push(event);
      }
      return out.length ? out : skipLine(raw, `no tag of this feed in ${JSON.stringify(tags)}`);
    },

    recoverLine: (row: CsvDictRow) => writeDictRow(row),
  };
}

export default defineParser({
  name: "turris",
  intelmq: "intelmq.bots.parsers.turris.parser",
  description: "Parse the Turris greylist (CSV): an event per brute-force or scan tag of an address",
  params,
  create,
});
