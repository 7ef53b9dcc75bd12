// SPDX-License-Identifier: AGPL-3.0-only
/**
 * CZ.NIC HaaS parser: the daily JSON list of the Honeypot as a Service SSH sessions, one event
 * per session (IntelMQ's intelmq.bots.parsers.cznic.parser_haas).
 */
import { z } from "zod";
import {
  DecodingError, LineError, dateutilParse, defineParser, isoformat, jsonKind, jsonListItems, jsonRecover, parserParams, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

type Json = Record<string, unknown>;
const truthy = (v: unknown) => !(v === null || v === undefined || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0));

/** A key every session has (IntelMQ fails the session with a KeyError without it). */
function required(o: Json, key: string): unknown {
  if (!(key in o)) throw new LineError(`the session has no "${key}"`);
  return o[key];
}

export default defineParser({
  name: "cznic_haas",
  intelmq: "intelmq.bots.parsers.cznic.parser_haas",
  description: "Parses the CZ.NIC HaaS (Honeypot as a Service) SSH sessions: brute-force or system-compromise per session",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => jsonListItems(report, "cznic_haas"),
    parseLine(item: unknown, report) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new DecodingError(`${jsonKind(item)} in the list where a session (JSON object) was expected`, { object: item });
      }
      const s = item as Json;
      const event = ctx.newEvent(report);
      event.add("source.ip", required(s, "ip"));
      const time = required(s, "time");
      const t = typeof time === "string" ? dateutilParse(time, { fuzzy: false }) : null;
      if (!t) throw new LineError(`the session's time ${JSON.stringify(time)} is unreadable`);
      event.add("time.source", isoformat(t));
      event.add("protocol.transport", "tcp");
      event.add("protocol.application", "ssh");
      event.add("destination.port", 22);
      const extra: Json = {};
      for (const k of ["time_closed", "commands"]) if (k in s) extra[k] = s[k];
      // IntelMQ fails a session with neither (an empty extra is invalid): here it goes out without
      if (Object.keys(extra).length) event.add("extra", extra);
      event.add("raw", jsonRecover(s));
      const country = required(s, "country");
      if (truthy(country)) event.add("source.geolocation.cc", country);
      // a successful login is a compromised system, with or without commands run
      const loggedIn = truthy(required(s, "login_successful"));
      required(s, "commands");
      if (loggedIn) event.add("classification.type", "system-compromise");
      else {
        event.add("classification.type", "brute-force");
        event.add("extra.count", 1);
      }
      return event;
    },
    recoverLine: (item: unknown) => jsonRecover(item),
  }),
});
