// SPDX-License-Identifier: AGPL-3.0-only
/** OpenPhish parser: one phishing URL per line of the public feed (IntelMQ's intelmq.bots.parsers.openphish.parser). */
import { z } from "zod";
import { addRequired, defineParser, parserParams } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

export default defineParser({
  name: "openphish",
  intelmq: "intelmq.bots.parsers.openphish.parser",
  description: "Parses the OpenPhish community feed: one phishing URL per line",
  params,
  create: (_prm, ctx) => ({
    parseLine(line, report) {
      const event = ctx.newEvent(report);
      event.add("classification.type", "phishing");
      addRequired(event, "source.url", line);
      event.add("raw", line);
      return event;
    },
  }),
});
