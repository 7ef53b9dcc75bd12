// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Zone-H parser: Zone-H's CSV report of defaced websites, one event per defacement
 * (IntelMQ's intelmq.bots.parsers.zoneh.parser).
 */
import { z } from "zod";
import { LineError, defineParser, parserParams, urlsplit, type BotContext, type Event, type Report } from "../../../shared/sdk/index.js";
import { csvDictRows, type CsvDictRow } from "../turris/csv-dict.js";

export const params = z.object({ ...parserParams }).strict();

const NO_FAIL = { raiseFailure: false };
const REQUIRED = ["add_date", "domain", "ip_address", "country_code", "attacker", "web_server", "system", "hackmode", "defacement_id"];

/** The header row and the record as they came (with its line end, as IntelMQ keeps it). */
const rawOf = (row: CsvDictRow) => `${row.headerText}\n${row.line}`;

function create(_prm: unknown, ctx: BotContext) {
  return {
    parse: (report: Report) => csvDictRows(report, "zoneh", REQUIRED),

    parseLine(row: CsvDictRow, report: Report): Event {
      const v = row.values;
      for (const k of REQUIRED) if (v[k] === null) throw new LineError(`the record has no value for ${k} (too few fields)`);
      // yes, the URL's column is called domain
      const url = v["domain"]!;
      const parts = urlsplit(url) ?? { scheme: "", netloc: "" };
      const event = ctx.newEvent(report);
      event.add("classification.identifier", "compromised-website");
      event.add("classification.type", "unauthorised-information-modification");
      event.add("event_description.text", "defacement");
      event.add("time.source", `${v["add_date"]} UTC`);
      event.add("raw", rawOf(row));
      event.add("source.ip", v["ip_address"], NO_FAIL);
      event.add("source.fqdn", parts.netloc, NO_FAIL);
      event.add("source.geolocation.cc", v["country_code"], NO_FAIL);
      event.add("protocol.application", parts.scheme);
      event.add("source.url", url, NO_FAIL);
      if (v["accept_date"]) event.add("extra.accepted_date", v["accept_date"]);
      event.add("extra.actor", v["attacker"]);
      event.add("extra.http_target", v["web_server"]);
      event.add("extra.os.name", v["system"]);
      event.add("extra.compromise_method", v["hackmode"]);
      event.add("extra.zoneh_report_id", v["defacement_id"]);
      return event;
    },

    recoverLine: rawOf,
  };
}

export default defineParser({
  name: "zoneh",
  intelmq: "intelmq.bots.parsers.zoneh.parser",
  description: "Parse Zone-H's CSV report of defaced websites",
  params,
  create,
});
