// SPDX-License-Identifier: AGPL-3.0-only
/**
 * SURBL parser: the rsync zone file of SURBL, where a ":" line names the lists (mw: malware, ph:
 * phishing, others: blacklist) of the "." domain lines after it (IntelMQ's
 * intelmq.bots.parsers.surbl.parser).
 */
import { z } from "zod";
import type { Report } from "../../../shared/message/index.js";
import { defineBot, parserParams } from "../../../shared/runtime/index.js";

export const params = z.object({ ...parserParams }).strict();

interface Item { line: string; type: string }

/** The classification of a ":" line from its list tags, e.g. "... on lists [mw][ph], See: ...". */
export function listType(line: string): string {
  const words = line.split(/\s+/).filter(Boolean);
  const tags = (words[words.length - 3] ?? "").slice(1, -2).split("][");
  if (tags.includes("mw")) return "malware-distribution";
  if (tags.includes("ph")) return "phishing";
  return "blacklist";
}

export default defineBot({
  kind: "parser",
  name: "surbl",
  intelmq: "intelmq.bots.parsers.surbl.parser",
  description: "Parses the SURBL zone file: domains classified by the lists they are on",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report): Generator<Item> {
      const raw = report.get("raw");
      const lines = (typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "").split(/\r\n|\r|\n/);
      if (lines[lines.length - 1] === "") lines.pop(); // as Python's splitlines(): no empty last line
      // As IntelMQ: a nine-line header and two trailing lines are not data.
      let type = "blacklist";
      for (const line of lines.slice(9, -2)) {
        if (line.startsWith(":")) type = listType(line);
        else if (line.startsWith(".")) yield { line, type };
      }
    },
    parseLine(item, report) {
      const { line, type } = item as Item;
      const event = ctx.newEvent(report);
      event.add("source.fqdn", line.slice(1));
      event.add("classification.type", type);
      event.add("raw", line);
      return event;
    },
    recoverLine(item) {
      return (item as Item).line;
    },
  }),
});
