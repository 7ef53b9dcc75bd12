// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ's OutputBot.export_event(): the message options every output bot shares
 * (hierarchical_output, message_with_type, message_jsondict_as_string, single_key, keep_raw_field).
 */
import { z } from "zod";
import type { ByteSink, Event } from "../message/index.js";
import { base64Decode, pyStr } from "../harmonization/index.js";
import { p } from "./params.js";

/** The shared output parameters, with IntelMQ's names and defaults. */
export const outputParams = {
  hierarchical_output: p.bool().default(false).describe("Nest fields at their dots ({\"source\": {\"ip\": ...}})"),
  message_with_type: p.bool().default(false).describe("Include \"__type\": \"Event\""),
  message_jsondict_as_string: p.bool().default(false).describe("Write JSON-dict fields (extra) as JSON text (not applied to JSON text output, as IntelMQ)"),
  // IntelMQ's default is false: "no single key", as null or an empty string
  single_key: z.union([z.string(), z.literal(false)]).nullable().default(null).transform((v) => v || null)
    .describe("Export only this field's value; \"raw\" gives the decoded original, \"output\" the parsed JSON"),
  keep_raw_field: p.bool().default(false).describe("Keep the raw field (dropped by default)"),
};

/** The shared output options, as an output bot's parsed parameters hold them. */
export interface ExportOptions {
  hierarchical_output: boolean;
  message_with_type: boolean;
  message_jsondict_as_string: boolean;
  single_key: string | null;
  keep_raw_field: boolean;
}

/** export_event(event, return_type=str): the text IntelMQ's outputs write for one event. Removes raw from the event unless kept. */
export function exportEventText(event: Event, o: ExportOptions): string {
  if (o.single_key) {
    if (o.single_key === "raw") return decodeBase64(event.get("raw", ""));
    const value = event.get(o.single_key);
    if (o.single_key === "output") {
      // a JSON string inside "output" is written unquoted; anything else as its JSON text
      const loaded: unknown = typeof value === "string" ? JSON.parse(value) : value;
      if (typeof loaded === "string") return loaded;
    }
    return pyStr(value);
  }
  if (!o.keep_raw_field && event.has("raw")) event.delete("raw");
  return event.toJson({ hierarchical: o.hierarchical_output, withType: o.message_with_type, jsondictAsString: o.message_jsondict_as_string });
}

/**
 * exportEventText(event) + "\n" as bytes at the end of `sink`, where that needs no string: the
 * flat JSON of an event that writes as ASCII. False, with nothing written, for any other event or
 * option (single_key, hierarchical_output, message_with_type): take exportEventText() then.
 */
export function exportEventLine(event: Event, o: ExportOptions, sink: ByteSink): boolean {
  if (o.single_key || o.hierarchical_output || o.message_with_type) return false;
  if (!o.keep_raw_field && event.has("raw")) event.delete("raw");
  if (!event.writeJson(sink)) return false;
  sink.byte(0x0a);
  return true;
}

/** export_event(event) without return type: a plain object (hierarchical/with type as configured). */
export function exportEventDict(event: Event, o: ExportOptions): unknown {
  if (o.single_key) {
    if (o.single_key === "raw") return decodeBase64(event.get("raw", ""));
    const value = event.get(o.single_key);
    return o.single_key === "output" && typeof value === "string" ? JSON.parse(value) : value;
  }
  if (!o.keep_raw_field && event.has("raw")) event.delete("raw");
  return event.toDict({ hierarchical: o.hierarchical_output, withType: o.message_with_type, jsondictAsString: o.message_jsondict_as_string });
}

/** utils.base64_decode of raw (invalid UTF-8 dropped, as IntelMQ's decode does); "" without raw. */
function decodeBase64(v: unknown): string {
  return typeof v === "string" ? base64Decode(v) : "";
}
