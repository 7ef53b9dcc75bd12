// SPDX-License-Identifier: AGPL-3.0-only
/**
 * SURBL parser: the rsync zone file of SURBL, where a ":" line names the lists (mw: malware, ph:
 * phishing, others: blacklist) of the "." domain lines after it (IntelMQ's
 * intelmq.bots.parsers.surbl.parser).
 */
import { z } from "zod";
import { type Report, addRequired, defineParser, excerpt, LineError, parserParams, reportText, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

interface Item { line: string; type: string }

/** A bare IPv4 address: an address entry of the zone, not a domain (IntelMQ leaves them out). */
const ADDRESS = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** The classification of a ":" line from its list tags, e.g. "... on lists [mw][ph], See: ...". */
export function listType(line: string): string {
  const words = line.split(/\s+/).filter(Boolean);
  const tags = (words[words.length - 3] ?? "").slice(1, -2).split("][");
  if (tags.includes("mw")) return "malware-distribution";
  if (tags.includes("ph")) return "phishing";
  return "blacklist";
}

export default defineParser({
  name: "surbl",
  intelmq: "intelmq.bots.parsers.surbl.parser",
  description: "Parses the SURBL zone file: domains classified by the lists they are on",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report) {
      const lines = reportText(report).split(/\r\n|\r|\n/);
      if (lines[lines.length - 1] === "") lines.pop(); // as Python's splitlines(): no empty last line
      // As IntelMQ: a nine-line header and two trailing lines are not data (a domain line there still is).
      const bodyEnd = Math.max(9, lines.length - 2);
      let type = "blacklist";
      for (const [i, line] of lines.entries()) {
        if (line.startsWith(".")) yield { line, type };
        else if (i < 9 || i >= bodyEnd) yield skipLine(line, i < 9 ? "header" : "footer");
        else if (line.startsWith(":")) {
          type = listType(line);
          yield skipLine(line, "list tags of the domains after it");
        } else if (line.trim() === "") continue;
        else if (line.startsWith("#") || line.startsWith("$")) yield skipLine(line, "comment or zone directive");
        else if (ADDRESS.test(line.trim())) yield skipLine(line, "address entry");
        else yield { line, type };
      }
    },
    parseLine(item, report) {
      const { line, type } = item as Item;
      if (!line.startsWith(".")) throw new LineError(`not a zone entry (".<domain>", ":<list tags>", a comment or an address): ${excerpt(line)}`);
      const event = ctx.newEvent(report);
      addRequired(event, "source.fqdn", line.slice(1));
      event.add("classification.type", type);
      event.add("raw", line);
      return event;
    },
    recoverLine(item) {
      return (item as Item).line;
    },
  }),
});
