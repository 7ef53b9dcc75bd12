// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CleanMX parser: the XML feeds of clean-mx.de (phishing and virus sites), one event per <entry>
 * (IntelMQ's intelmq.bots.parsers.cleanmx.parser).
 */
import { z } from "zod";
import {
  ConfigurationError, DecodingError, LineError, XmlError, defineParser, excerpt, fromTimestamp, parseXml, parserParams, reportText,
  skipLine, xmlIter, xmlToString, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const IGNORE = "__IGNORE__";
/** Tag -> field ("extra": extra.<tag>; __IGNORE__: left out), per feed. */
export const PHISHING: Readonly<Record<string, string>> = {
  line: IGNORE, id: "extra", first: "time.source", firsttime: IGNORE, last: IGNORE, lasttime: IGNORE, phishtank: "extra",
  target: "event_description.target", url: "source.url", recent: "status", response: "extra", ip: "source.ip", review: "extra",
  domain: "source.fqdn", country: "source.geolocation.cc", source: "source.registry", email: "source.abuse_contact",
  inetnum: "extra", netname: "extra", descr: "extra", ns1: "extra", ns2: "extra", ns3: "extra", ns4: "extra", ns5: "extra",
};
export const VIRUS: Readonly<Record<string, string>> = {
  line: IGNORE, id: "extra", sub: "extra", first: "time.source", firsttime: IGNORE, last: IGNORE, lasttime: IGNORE, scanner: "extra",
  virusname: "malware.name", url: "source.url", recent: "status", response: "extra", ip: "source.ip", as: "source.asn", review: "extra",
  domain: "source.fqdn", country: "source.geolocation.cc", source: "extra", email: "source.abuse_contact", inetnum: "extra",
  netname: "extra", descr: "extra", ns1: "extra", ns2: "extra", ns3: "extra", ns4: "extra", ns5: "extra", md5: "malware.hash.md5",
  virustotal: "extra", vt_score: "extra", vt_info: "extra",
};

function feedOf(url: string): { mapping: Readonly<Record<string, string>>; type: string } | null {
  if (url.includes("xmlphishing")) return { mapping: PHISHING, type: "phishing" };
  if (url.includes("xmlviruses")) return { mapping: VIRUS, type: "malware-distribution" };
  return null;
}

const STATUS: Readonly<Record<string, string>> = { down: "offline", up: "online" };

export default defineParser({
  name: "cleanmx",
  intelmq: "intelmq.bots.parsers.cleanmx.parser",
  description: "Parses the CleanMX phishing and virus XML feeds",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report) {
      const url = String(report.get("feed.url") ?? "");
      if (url.includes("format=csv")) {
        throw new ConfigurationError("runtime", "CleanMX Collector must have http_url parameter pointing to XML format URL from the feed, instead CSV format.");
      }
      let root;
      try {
        root = parseXml(reportText(report));
      } catch (err) {
        if (!(err instanceof XmlError)) throw err;
        throw new DecodingError(`cleanmx: the report is not XML (${err.message})`, { cause: err });
      }
      // each entry written back as ElementTree writes it: the event's raw
      let entries = 0;
      for (const entry of xmlIter(root, "entry")) {
        entries++;
        yield xmlToString(entry);
      }
      if (!entries) yield skipLine(reportText(report), "an XML document without <entry>");
    },
    parseLine(entryText: string, report) {
      const feed = feedOf(String(report.get("feed.url") ?? ""));
      if (!feed) throw new LineError("unknown report: feed.url names neither xmlphishing nor xmlviruses");
      const entry = parseXml(entryText);
      const event = ctx.newEvent(report);
      const extra: Record<string, string> = {};
      for (const item of entry.children) {
        let value = item.text;
        if (!value || value === "undef") continue;
        const key = feed.mapping[item.tag];
        if (key === undefined) throw new LineError(`unknown tag <${item.tag}> in the entry`);
        if (key === IGNORE) continue;
        // a domain that is an address, or an address that is a domain, is left out
        if (key === "source.fqdn" && event.isValid("source.ip", value)) continue;
        if (key === "source.ip" && event.isValid("source.fqdn", value)) continue;
        if (key === "time.source") {
          if (!/^\s*[+-]?\d+\s*$/.test(value)) throw new LineError(`the first-seen time ${excerpt(value)} is no epoch time`);
          value = fromTimestamp(Number(value));
        } else if (key === "source.asn") {
          if (value.toUpperCase().startsWith("ASNA")) continue;
          const as = value.toUpperCase().split(",").find((a) => a.startsWith("AS"));
          if (as !== undefined) value = as.split("AS")[1]!;
        } else if (key === "status") value = STATUS[value] ?? value;
        if (key === "extra") { extra[item.tag] = value; continue; }
        event.add(key, value);
      }
      if (Object.keys(extra).length) event.add("extra", extra);
      event.add("classification.type", feed.type);
      event.add("raw", entryText);
      return event;
    },
  }),
});
