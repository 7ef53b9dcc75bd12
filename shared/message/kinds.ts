// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's two kinds of message, and how they are made: new_event() and from a wire dict. */
import { DecodingError, InvalidArgument } from "../errors/index.js";
import type { Harmonization } from "../harmonization/index.js";
import { Message, getDefaultHarmonization } from "./message.js";
import { eventTemplate } from "./template.js";
import type { MessageKind } from "./types.js";

/** An event: a parsed record. */
export class Event extends Message {
  static readonly KIND: MessageKind = "Event";
  declare readonly kind: "Event";
}

/** A report: what a collector fetched (`raw` + `feed.*`). */
export class Report extends Message {
  static readonly KIND: MessageKind = "Report";
  declare readonly kind: "Report";
}

const NO_FIELDS: readonly string[] = [];

/** A new Event, copying feed.*, rtir_id, time.observation and `copyFields` from the report as IntelMQ's new_event(). */
export function newEvent(report?: Report | null, opts?: { harmonization?: Harmonization; copyFields?: readonly string[] }): Event {
  const h = opts?.harmonization ?? report?.harmonization;
  if (!report) return new Event(null, h ? { harmonization: h } : undefined);
  const harmonization = h ?? getDefaultHarmonization();
  // one array for "none", so that the template below is found again
  const copyFields = opts?.copyFields ?? NO_FIELDS;
  // A parser makes every event of a report from the same fields: they are validated for the
  // first event and copied for the rest, as long as the report is unchanged.
  const t = templates.get(report);
  if (t && t.version === report._version && t.copyFields === copyFields && t.event.harmonization === harmonization) return t.event.copy();
  const event = new Event(eventTemplate(report, copyFields), { harmonization });
  templates.set(report, { version: report._version, copyFields, event: event.copy() });
  return event;
}

/** The first event made from a report (see newEvent()). */
const templates = new WeakMap<Report, { version: number; copyFields: readonly string[]; event: Event }>();

/**
 * Deserialise a flat dict (as on the wire) into an Event or Report: each key added unsanitized,
 * retried sanitized, as IntelMQ does; throws InvalidValue (with .object = the dict) or InvalidKey.
 * `__type` selects the class; without it `defaultType` is used, else DecodingError. `trusted`:
 * the dict was serialized by one of our bots from a valid message (HARMONIZED_HEADER), its values
 * are taken without validation.
 */
export function messageFromDict(
  dict: Record<string, unknown>, opts?: { harmonization?: Harmonization; defaultType?: MessageKind; trusted?: boolean },
): Event | Report {
  if (dict === null || typeof dict !== "object" || Array.isArray(dict)) {
    throw new DecodingError("a message must be a JSON object", { object: dict });
  }
  const type = dict["__type"] ?? opts?.defaultType;
  const h = opts?.harmonization ?? getDefaultHarmonization();
  if (type === "Event") return Event._fromDict(dict, h, opts?.trusted);
  if (type === "Report") return Report._fromDict(dict, h, opts?.trusted);
  if (type === undefined || type === null) throw new DecodingError("the message has no __type", { object: dict });
  throw new InvalidArgument("__type", type, ["Event", "Message", "Report"]);
}
