// SPDX-License-Identifier: AGPL-3.0-only
/** CI Army parser: the CINS Army list, one IP address per line (IntelMQ's intelmq.bots.parsers.ci_army.parser). */
import { z } from "zod";
import { addRequired, defineParser, parserParams, rawLines, skipLine, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

export default defineParser({
  name: "ci_army",
  intelmq: "intelmq.bots.parsers.ci_army.parser",
  description: "Parses the CINS Army list: one IP address per line, a blacklist event each",
  params,
  create: (_prm, ctx) => ({
    // IntelMQ takes the lines as they are (not stripped): only "#" comments and empty lines are left out
    *parse(report: Report) {
      for (const line of rawLines(report)) {
        if (line.startsWith("#")) yield skipLine(line, "comment");
        else if (line !== "") yield line;
      }
    },
    parseLine(line: string, report) {
      const event = ctx.newEvent(report);
      addRequired(event, "source.ip", line);
      event.add("classification.type", "blacklist");
      event.add("raw", line);
      return event;
    },
  }),
});
