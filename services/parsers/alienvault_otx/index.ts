// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AlienVault OTX parser: a JSON list of the pulses a user subscribed to; each indicator of a
 * pulse (hash, domain, host, address, e-mail, URL, URI, network, CVE) gives one event
 * (IntelMQ's intelmq.bots.parsers.alienvault.parser_otx).
 */
import { z } from "zod";
import {
  DecodingError, LineError, defineParser, jsonKind, jsonListItems, jsonRecover, parserParams, pyDumpsLoaded, skipLine, urlsplit,
  type Event, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

type Json = Record<string, unknown>;

const HASHES: Readonly<Record<string, string>> = {
  "FileHash-SHA256": "malware.hash.sha256",
  "FileHash-SHA1": "malware.hash.sha1",
  "FileHash-MD5": "malware.hash.md5",
};

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown, what: string): string => {
  if (typeof v !== "string") throw new LineError(`${what} is ${jsonKind(v)}, not a string`);
  return v;
};
/** A key the pulse must have (IntelMQ fails the pulse with a KeyError without it). */
function required(o: Json, key: string, what: string): unknown {
  if (!(key in o)) throw new LineError(`${what} has no "${key}"`);
  return o[key];
}
const withScheme = (s: string) => (s.includes("://") ? s : `http://${s}`);
const truthy = (v: unknown) => !(v === null || v === undefined || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0));

/**
 * The field of one indicator, or null for a type that is not taken (the indicator gives no event).
 * A CVE goes to extra.cve.
 */
function addIndicator(event: Event, type: string, value: string, extra: Json): boolean {
  const hash = HASHES[type];
  if (hash) { event.add(hash, value); return true; }
  switch (type) {
    case "hostname": case "domain": {
      // some "domains" are URLs: with a path they are taken as one
      const url = withScheme(value);
      if ((urlsplit(url)?.path ?? "") !== "") event.add("source.url", url);
      else event.add("source.fqdn", value);
      return true;
    }
    case "IPv4": case "IPv6": event.add("source.ip", value); return true;
    case "email": event.add("source.account", value); return true;
    case "URL": case "URI": {
      if (event.add("source.url", withScheme(value), { raiseFailure: false })) return true;
      // an URI may be a path alone
      if (type === "URI") { event.add("source.urlpath", value); return true; }
      throw new LineError(`invalid value ${JSON.stringify(value)} for the URL type`);
    }
    case "CIDR": event.add("source.network", value); return true;
    case "CVE": extra.cve = value; return true;
    default: return false;
  }
}

export default defineParser({
  name: "alienvault_otx",
  intelmq: "intelmq.bots.parsers.alienvault.parser_otx",
  description: "Parses AlienVault OTX pulses (JSON): one event per indicator",
  params,
  create: (_prm, ctx) => ({
    parse: (report: Report) => jsonListItems(report, "alienvault_otx"),
    parseLine(pulse: unknown, report) {
      if (!isObject(pulse)) throw new DecodingError(`${jsonKind(pulse)} in the list where a pulse (JSON object) was expected`, { object: pulse });
      const indicators = required(pulse, "indicators", "the pulse");
      if (!Array.isArray(indicators)) throw new LineError(`the pulse's indicators are ${jsonKind(indicators)}, not a list`);
      const base = { author: required(pulse, "author_name", "the pulse"), pulse: required(pulse, "name", "the pulse") };
      const events: Event[] = [];
      for (const indicator of indicators) {
        if (!isObject(indicator)) throw new LineError(`an indicator is ${jsonKind(indicator)}, not an object`);
        const extra: Json = {};
        const event = ctx.newEvent(report);
        const type = required(indicator, "type", "an indicator");
        if (!addIndicator(event, String(type), str(required(indicator, "indicator", "an indicator"), "an indicator's value"), extra)) continue;
        extra.pulse_key = "pulse_key" in indicator ? indicator.pulse_key : required(pulse, "id", "the pulse");
        if ("tags" in pulse) extra.tags = pulse.tags;
        if ("modified" in pulse) {
          const modified = str(pulse.modified, "the pulse's modified time");
          extra.time_updated = modified.includes(".") ? `${modified.slice(0, -4)}+00:00` : `${modified}.00+00:00`;
        }
        if ("industries" in pulse) extra.industries = pulse.industries;
        if ("adversary" in pulse) extra.adversary = pulse.adversary;
        if ("targeted_countries" in pulse && truthy(pulse.targeted_countries)) extra.targeted_countries = pulse.targeted_countries;
        if ("TLP" in pulse) event.add("tlp", pulse.TLP, { overwrite: true });
        event.add("comment", required(pulse, "description", "the pulse"));
        event.add("extra", { ...base, ...extra });
        event.add("classification.type", "blacklist");
        event.add("time.source", `${str(required(indicator, "created", "an indicator"), "an indicator's created time").slice(0, -4)}+00:00`);
        event.add("raw", pyDumpsLoaded(indicator, { sortKeys: true }));
        events.push(event);
      }
      // declared, not dropped silently: the pulse has nothing this parser takes
      return events.length ? events : skipLine(jsonRecover(pulse), "a pulse without indicators of a known type");
    },
    recoverLine: (pulse: unknown) => jsonRecover(pulse),
  }),
});
