// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CertStream parser: one certificate update of Calidog's CertStream per report; each domain of
 * the leaf certificate gives one event (IntelMQ's intelmq.bots.parsers.calidog.parser_certstream).
 */
import { z } from "zod";
import {
  DecodingError, LineError, defineParser, fromEpochMillis, jsonKind, parserParams, reportJson, reportText, skipLine,
  type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** One domain of the certificate, with the update's data and the report's text (every event's raw). */
interface Item { domain: unknown; data: Record<string, unknown>; raw: string }

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export default defineParser({
  name: "calidog_certstream",
  intelmq: "intelmq.bots.parsers.calidog.parser_certstream",
  description: "Parses CertStream certificate updates: one event per domain of the leaf certificate",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report): Generator<Item | SkippedLine> {
      const doc = reportJson(report, "calidog_certstream");
      const raw = reportText(report);
      if (!isObject(doc) || !("data" in doc)) {
        throw new DecodingError(`calidog_certstream: the report holds ${isObject(doc) ? "an object without \"data\"" : jsonKind(doc)} where a CertStream message was expected`);
      }
      const data = doc.data;
      const leaf = isObject(data) ? data.leaf_cert : undefined;
      const domains = isObject(leaf) ? leaf.all_domains : undefined;
      if (!isObject(data) || !Array.isArray(domains)) {
        yield skipLine(raw, "a CertStream message without domains of a leaf certificate");
        return;
      }
      for (const domain of domains) yield { domain, data, raw };
    },
    parseLine(item: Item, report) {
      const seen = Math.trunc(Number(item.data.seen));
      if (!Number.isFinite(seen)) throw new LineError(`the update's "seen" time is ${JSON.stringify(item.data.seen)}, no number`);
      const event = ctx.newEvent(report);
      event.add("time.source", fromEpochMillis(seen));
      event.add("classification.type", "other");
      event.add("raw", item.raw);
      // a domain may be an address
      if (!event.add("source.fqdn", item.domain, { raiseFailure: false })) event.add("source.ip", item.domain);
      return event;
    },
    recoverLine: (item: Item) => item.raw,
  }),
});
