// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Fraunhofer DGA parser: the DGArchive JSON object of domain lists per generator; each domain
 * (or address) is a C2 server of the malware the generator's name begins with (IntelMQ's
 * intelmq.bots.parsers.fraunhofer.parser_dga).
 */
import { z } from "zod";
import { DecodingError, LineError, defineParser, jsonKind, parserParams, reportJson, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** One domain of a generator's list, or the generator's value when it is no list. */
interface Item { generator: string; value: unknown; notList?: boolean }

const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v) ?? String(v));

export default defineParser({
  name: "fraunhofer_dga",
  intelmq: "intelmq.bots.parsers.fraunhofer.parser_dga",
  description: "Parses the Fraunhofer FKIE DGArchive feed: C2 domains per domain generation algorithm",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report): Generator<Item> {
      const doc = reportJson(report, "fraunhofer_dga");
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new DecodingError(`fraunhofer_dga: the report holds ${jsonKind(doc)} where an object of domain lists was expected`);
      }
      for (const [generator, list] of Object.entries(doc)) {
        if (!Array.isArray(list)) yield { generator, value: list, notList: true };
        else for (const value of list) yield { generator, value };
      }
    },
    parseLine(item: Item, report) {
      if (item.notList) throw new LineError(`the value of ${JSON.stringify(item.generator)} is ${jsonKind(item.value)}, not a list of domains`);
      const event = ctx.newEvent(report);
      event.add("classification.type", "c2-server");
      // the generator's name up to the first "_" is the malware's
      event.add("malware.name", item.generator.split("_")[0]);
      if (!event.add("source.ip", item.value, { raiseFailure: false })) event.add("source.fqdn", item.value);
      event.add("raw", text(item.value));
      return event;
    },
    recoverLine: (item: Item) => (item.notList ? JSON.stringify({ [item.generator]: item.value }) : text(item.value)),
  }),
});
