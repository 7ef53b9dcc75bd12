// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Danger Rulez parser: the Bruteforce Blocker list, `IP  # last reported  count  id` per line
 * (IntelMQ's intelmq.bots.parsers.danger_rulez.parser).
 */
import { z } from "zod";
import { LineError, addRequired, defineParser, excerpt, parserParams, rawLines, skipLine, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const IP = /^[^ \t]+/;
const TIMESTAMP = /# ([^ \t]+ [^ \t]+)/;

export default defineParser({
  name: "danger_rulez",
  intelmq: "intelmq.bots.parsers.danger_rulez.parser",
  description: "Parses the Danger Rulez Bruteforce Blocker list: brute-force sources with their last report time",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report) {
      for (const line of rawLines(report)) {
        if (line.startsWith("#")) yield skipLine(line, "comment");
        else if (line !== "") yield line;
      }
    },
    parseLine(line: string, report) {
      const time = TIMESTAMP.exec(line)?.[1];
      if (!time) throw new LineError(`no timestamp ("# <date> <time>") in the line: ${excerpt(line)}`);
      const ip = IP.exec(line)?.[0];
      if (!ip) throw new LineError(`no address at the start of the line: ${excerpt(line)}`);
      const event = ctx.newEvent(report);
      event.add("time.source", `${time} UTC`);
      addRequired(event, "source.ip", ip);
      event.add("classification.type", "brute-force");
      event.add("raw", line);
      return event;
    },
  }),
});
