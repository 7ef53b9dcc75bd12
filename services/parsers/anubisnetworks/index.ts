// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AnubisNetworks Cyberfeed parser: one sinkhole connection (a JSON object of the Cyberfeed
 * stream) per report, one event each, in both the old (env, trojanfamily) and the new format
 * (src, dst, malw, comm, tracking, _geo_*) (IntelMQ's intelmq.bots.parsers.anubisnetworks.parser).
 */
import { z } from "zod";
import { LineError, defineParser, jsonKind, p, parserParams, pyStrip, reportJson, reportText, skipLine, type Report } from "../../../shared/sdk/index.js";
import { buildEvent, type Doc } from "./mapping.js";

export const params = z.object({
  ...parserParams,
  use_malware_familiy_as_classification_identifier: p.bool().default(true)
    .describe("Put malw.family in classification.identifier (else in extra.malware.family unless it equals the variant); the name's typo is IntelMQ's"),
}).strict();

/** The report's one connection, with its text for dumps. */
interface Item { doc: Doc; text: string }

export default defineParser({
  name: "anubisnetworks",
  intelmq: "intelmq.bots.parsers.anubisnetworks.parser",
  description: "Parses the AnubisNetworks Cyberfeed stream: one sinkhole connection per report",
  params,
  create: (prm, ctx) => ({
    *parse(report: Report) {
      const text = reportText(report);
      if (pyStrip(text) === "") {
        yield skipLine(text, "empty report");
        return;
      }
      const doc = reportJson(report, "anubisnetworks");
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new LineError(`anubisnetworks: the report holds ${jsonKind(doc)} where a Cyberfeed object was expected`);
      }
      yield { doc: doc as Doc, text };
    },
    parseLine(item: Item, report) {
      const event = ctx.newEvent(report);
      const url = event.get("feed.url");
      // the stream's URL holds the API key
      if (typeof url === "string") event.change("feed.url", url.split("?key=")[0]);
      event.add("raw", report.get("raw"), { sanitize: false });
      event.add("classification.type", "infected-system");
      event.add("classification.taxonomy", "malicious-code");
      event.add("event_description.text", "Sinkhole attempted connection");
      buildEvent(event, item.doc, prm.use_malware_familiy_as_classification_identifier);
      // used for the provider's own tests, not part of the feed
      if (event.get("malware.name") === "testsinkholingloss") return skipLine(item.text, "the provider's test event (TestSinkholingLoss)");
      return event;
    },
    recoverLine: (item: Item) => item.text,
  }),
});
