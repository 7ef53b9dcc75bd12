// SPDX-License-Identifier: AGPL-3.0-only
/**
 * ThreatMiner parser: the "Recent domains" of threatminer.org's start page
 * (IntelMQ's intelmq.bots.parsers.threatminer.parser).
 */
import { z } from "zod";
import {
  DecodingError, defineParser, findAllHtml, htmlText, isHtmlText, parseHtml, parserParams, reportText, skipLine,
  type BotContext, type HtmlNode, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** One domain: its text and the page's line where it stands (stripped), IntelMQ's raw. */
interface Row { domain: string; raw: string }

/** The nodes of a document in order. */
function* walk(nodes: readonly HtmlNode[]): Generator<HtmlNode> {
  for (const n of nodes) {
    yield n;
    if ("children" in n) yield* walk(n.children as HtmlNode[]);
  }
}

function create(_prm: unknown, ctx: BotContext) {
  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const text = reportText(report);
      const doc = parseHtml(text);
      let seen = false;
      let table: HtmlNode | null = null;
      // the first table after the heading "Recent domains"
      for (const n of walk(doc.children)) {
        if (!seen) {
          seen = isHtmlText(n) && n.data.trim() === "Recent domains";
        } else if ("name" in n && n.name === "table") {
          table = n;
          break;
        }
      }
      if (!seen) throw new DecodingError("threatminer: the page has no \"Recent domains\"", { object: "Recent domains" });
      if (!table) throw new DecodingError("threatminer: no table follows \"Recent domains\"", { object: "table" });
      let found = 0;
      for (const cell of findAllHtml(table, "td")) {
        const domain = htmlText(cell).trim();
        if (domain === "") continue;
        // the line of the page where the domain's text begins
        const at = [...walk([cell])].find((n) => isHtmlText(n) && n.data.trim() !== "")?.startIndex ?? cell.startIndex ?? 0;
        const end = text.indexOf("\n", at);
        found++;
        yield { domain, raw: text.slice(text.lastIndexOf("\n", at - 1) + 1, end === -1 ? text.length : end).trim() };
      }
      if (found === 0) yield skipLine(text, "the table of recent domains is empty");
    },

    parseLine(row: Row, report: Report) {
      const event = ctx.newEvent(report);
      event.add("source.fqdn", row.domain);
      event.add("classification.type", "blacklist");
      event.add("raw", row.raw);
      return event;
    },

    recoverLine: (row: Row) => row.raw,
  };
}

export default defineParser({
  name: "threatminer",
  intelmq: "intelmq.bots.parsers.threatminer.parser",
  description: "Parse the recent domains of threatminer.org's page",
  params,
  create,
});
