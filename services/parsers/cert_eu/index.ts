// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CERT-EU parser: the CSV feed of CERT-EU (a header row of named columns), one event per record
 * (IntelMQ's intelmq.bots.parsers.cert_eu.parser_csv).
 */
import { z } from "zod";
import { LineError, csvDictRows, defineParser, excerpt, parserParams, types, type CsvDictRow, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** The feed's type -> classification.type; any other type is "other". */
export const TYPES: Readonly<Record<string, string>> = {
  "backdoor": "system-compromise",
  "blacklist": "blacklist",
  "botnet drone": "infected-system",
  "brute-force": "brute-force",
  "c2server": "c2-server",
  "compromised server": "system-compromise",
  "ddos infrastructure": "ddos",
  "ddos target": "ddos",
  "defacement": "unauthorised-information-modification",
  "dropzone": "other",
  "exploit url": "exploit",
  "ids alert": "ids-alert",
  "malware-configuration": "malware-configuration",
  "malware url": "malware-distribution",
  "phishing": "phishing",
  "ransomware": "infected-system",
  "scanner": "scanner",
  "spam infrastructure": "spam",
  "test": "test",
  "vulnerable service": "vulnerable-system",
};

/** Columns this parser cannot map yet: a record with a value in one fails, so that it is noticed. */
const UNKNOWN = ["threat type", "ns1", "ns2", "response", "recent"];

/** Python's int() of a text: digits with an optional sign, blanks around; null where it raises. */
function pyInt(v: string | undefined): number | null {
  if (v === undefined || !/^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return null;
  return Number(v.replaceAll("_", ""));
}

export default defineParser({
  name: "cert_eu",
  intelmq: "intelmq.bots.parsers.cert_eu.parser_csv",
  description: "Parses the CERT-EU CSV feed (a header row of named columns)",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => csvDictRows(report, { ignoreLinesStarting: ["#"], parser: "cert_eu" }),
    parseLine(row: CsvDictRow, report) {
      const col = (name: string): string | undefined => {
        if (!row.header.includes(name)) throw new LineError(`the header has no column ${JSON.stringify(name)}`);
        return row.values[name];
      };
      const version = col("version");
      if (version !== "1.5" && version !== "") throw new LineError(`unknown version ${excerpt(String(version ?? "None"))}`);
      for (const name of UNKNOWN) if (col(name)) throw new LineError(`unable to parse the column ${JSON.stringify(name)}: ${excerpt(col(name)!)}`);
      const event = ctx.newEvent(report);
      const set = (key: string, value: unknown) => event.add(key, value, { overwrite: true });
      set("extra.datasource", col("feed code"));
      event.add("source.ip", col("source ip"));
      event.add("source.network", col("source bgp prefix"));
      event.add("extra.cert_eu_time_observation", types.DateTime!.sanitize(col("observation time")));
      event.add("tlp", col("tlp"));
      event.add("event_description.text", col("description"));
      const type = col("type");
      event.add("classification.type", TYPES[type ?? ""] ?? "other");
      if (type === "dropzone") event.add("classification.identifier", "dropzone");
      const count = col("count");
      if (count) {
        const n = pyInt(count);
        if (n === null) throw new LineError(`the count ${excerpt(count)} is no integer`);
        set("extra.count", n);
      }
      event.add("time.source", col("source time"));
      event.add("source.geolocation.country", col("source country"));
      event.add("protocol.application", col("protocol"));
      event.add("destination.port", col("destination port"));
      event.add("source.geolocation.latitude", col("source latitude"));
      event.add("source.geolocation.city", col("source city"));
      event.add("source.geolocation.geoip_cc", col("source cc"));
      event.add("source.geolocation.longitude", col("source longitude"));
      event.add("extra.source.geolocation.geohash", col("source geohash"));
      set("extra.first_seen", col("first seen"));
      // the feed's confidence (percent) scales the feed's accuracy
      const confidence = col("confidence level");
      const level = pyInt(confidence);
      if (level === null) throw new LineError(`the confidence level ${excerpt(String(confidence ?? "None"))} is no integer`);
      set("feed.accuracy", (Number(event.get("feed.accuracy") ?? 100) * level) / 100);
      set("extra.last_seen", col("last seen"));
      set("extra.expiration_date", col("expiration date"));
      const status = col("status");
      if (status) set("status", status);
      event.add("event_description.target", col("target"));
      event.add("source.url", col("url"));
      event.add("source.abuse_contact", col("abuse contact"));
      event.add("source.asn", col("source asn"));
      event.add("source.as_name", col("source as name"));
      event.add("source.fqdn", col("domain name"));
      event.add("raw", row.raw);
      return event;
    },
    // a failed record is dumped as the report has it (the event's raw is written anew)
    recoverLine: (row: CsvDictRow) => row.original,
  }),
});
