// SPDX-License-Identifier: AGPL-3.0-only
/**
 * FireEye parser: an OpenIOC document of a FireEye malware alert (the FireEye collector's report)
 * into a malware event (hashes) and, when the alert has network indicators, a
 * malware-distribution event with its destination (IntelMQ's intelmq.bots.parsers.fireeye.parser).
 */
import { z } from "zod";
import {
  DecodingError, LineError, XmlError, defineParser, parseXml, parserParams, reportText, skipLine, xmlToDict, type Event, type Report,
} from "../../../shared/sdk/index.js";
import { networkIndicators } from "./network.js";

export const params = z.object({ ...parserParams }).strict();

interface Item { text: string; doc: Record<string, unknown> }

/** A key the document lacks: IntelMQ then stops reading the alert ("No IOCs Available."). */
class Missing extends Error {
  override readonly name = "Missing";
}

/** Python's `o[key]` on what xmltodict gives: a missing key is Missing, indexing a non-object fails the alert. */
function at(o: unknown, key: string): unknown {
  // an empty element (<criteria/>) holds no IOCs either (IntelMQ fails on it with a TypeError)
  if (o === null) throw new Missing(key);
  if (typeof o !== "object" || Array.isArray(o)) throw new LineError(`the OpenIOC document has no object where ${JSON.stringify(key)} was looked up`);
  if (!(key in o)) throw new Missing(key);
  return (o as Record<string, unknown>)[key];
}

/** Python's iteration: a list's elements, an object's keys, a text's characters. */
function iterate(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [...v];
  if (v !== null && typeof v === "object") return Object.keys(v);
  throw new LineError("the indicator items are no list");
}

export default defineParser({
  name: "fireeye",
  intelmq: "intelmq.bots.parsers.fireeye.parser",
  description: "Parses FireEye OpenIOC malware alerts: hashes, and the network destinations of the malware",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report) {
      const text = reportText(report);
      try {
        const root = parseXml(text);
        yield { text, doc: { [root.tag]: xmlToDict(root) } };
      } catch (err) {
        if (!(err instanceof XmlError)) throw err;
        throw new DecodingError(`fireeye: the report is not XML (${err.message})`, { cause: err });
      }
    },
    parseLine(item: Item, report) {
      const { text, doc } = item;
      const events: Event[] = [];
      try {
        const items = at(at(at(at(doc, "OpenIOC"), "criteria"), "Indicator"), "IndicatorItem");
        let event = ctx.newEvent(report);
        let md5: unknown;
        for (const indicator of iterate(items)) {
          const type = at(at(indicator, "Context"), "@search");
          if (type === "FileItem/Md5sum") {
            md5 = at(at(indicator, "Content"), "#text");
            event.add("malware.hash.md5", md5);
          }
          if (type !== "FileItem/Sha256sum") continue;
          const sha256 = at(at(indicator, "Content"), "#text");
          event.add("malware.hash.sha256", sha256);
          event.add("classification.type", "malware");
          event.add("raw", text);
          events.push(event);
          // the network indicators are read from the text: the second <Indicator> of the document
          const parts = text.split("<Indicator id");
          if (parts[0]!.split('"alert_id">').length < 2) throw new LineError("the alert has no alert_id");
          if (parts.length < 3) throw new LineError("the alert has no second <Indicator> (of network indicators)");
          const network = parts[2]!;
          event = ctx.newEvent(report);
          if (network.includes("Network")) {
            if (md5 === undefined) throw new LineError("the alert has a SHA-256 but no MD5 before it");
            event.add("classification.type", "malware-distribution");
            event.add("raw", text);
            event.add("malware.hash.sha256", sha256);
            event.add("malware.hash.md5", md5);
            networkIndicators(event, network);
            events.push(event);
          }
        }
      } catch (err) {
        if (!(err instanceof Missing)) throw err;
        ctx.log.info("No IOCs Available.");
      }
      return events.length ? events : skipLine(text, "an alert without IOCs");
    },
    recoverLine: (item: Item) => item.text,
  }),
});
