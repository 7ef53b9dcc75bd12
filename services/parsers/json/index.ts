// SPDX-License-Identifier: AGPL-3.0-only
/**
 * JSON parser: reads IntelMQ messages in JSON (one per report, one per line, or a list)
 * back into events (IntelMQ's intelmq.bots.parsers.json.parser).
 */
import { z } from "zod";
import { defineParser, p, parserParams, type BotContext, messageFromDict, type Event, type Report, DecodingError } from "../../../shared/sdk/index.js";

export const params = z.object({
  ...parserParams,
  splitlines: p.bool().default(false).describe("The report holds one JSON message per line"),
  multiple_events: p.bool().default(false).describe("The report holds a JSON list of messages"),
}).strict();

export type Params = z.infer<typeof params>;

/** One message of a report: its JSON text and, for lists, the parsed object. */
interface Item { text: string; value?: unknown }

// Python's str.splitlines() boundaries
const LINE_BREAKS = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

function decodeRaw(report: Report): string {
  const raw = report.get("raw");
  return typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
}

function create(prm: Params, ctx: BotContext) {
  return {
    *parse(report: Report): Iterable<Item> {
      const text = decodeRaw(report);
      if (prm.multiple_events) {
        const list: unknown = JSON.parse(text);
        if (!Array.isArray(list)) throw new DecodingError("multiple_events expects a JSON list", { object: text });
        for (const value of list) yield { text: JSON.stringify(value), value };
      } else if (prm.splitlines) {
        for (const line of text.split(LINE_BREAKS)) if (line.trim() !== "") yield { text: line };
      } else if (text !== "") {
        yield { text };
      }
    },

    parseLine(item: Item, report: Report): Event {
      const { text, value } = item;
      let dict: unknown = value;
      if (dict === undefined) {
        try {
          dict = JSON.parse(text);
        } catch (err) {
          throw new DecodingError(String((err as Error).message), { object: text, cause: err });
        }
      }
      if (dict === null || typeof dict !== "object" || Array.isArray(dict)) {
        throw new DecodingError("a JSON object was expected", { object: text });
      }
      const parsed = messageFromDict(dict as Record<string, unknown>, { harmonization: ctx.harmonization, defaultType: "Event" });
      const event = ctx.newEvent(report);
      event.update(Object.fromEntries(parsed.entries()));
      if (!event.has("raw")) event.add("raw", text);
      return event;
    },

    recoverLine(item: Item): string {
      return item.text;
    },
  };
}

export default defineParser({
  name: "json",
  intelmq: "intelmq.bots.parsers.json.parser",
  description: "Parse IntelMQ messages in JSON (one per report, one per line, or a list) into events",
  params,
  create,
});
