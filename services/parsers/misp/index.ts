// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MISP parser: a MISP event (JSON, as the MISP collector fetches it) into one event per attribute
 * of a supported category and type, classified by the event's eCSIRT taxonomy tag
 * (IntelMQ's intelmq.bots.parsers.misp.parser).
 */
import { z } from "zod";
import {
  DecodingError, LineError, defineParser, fromTimestamp, isJsonObject, jsonKind, jsonObject, parserParams, pyJsonDumps, reportText, skipLine,
  type BotContext, type Event, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** eCSIRT taxonomy tags (MISP's default) -> classification.type. */
export const MISP_TAXONOMY_MAPPING: Readonly<Record<string, string>> = {
  'ecsirt:fraud="phishing"': "phishing",
  'ecsirt:availability="ddos"': "ddos",
  'ecsirt:abusive-content="spam"': "spam",
  'ecsirt:information-gathering="scanner"': "scanner",
  'ecsirt:information-content-security="dropzone"': "other",
  'ecsirt:malicious-code="malware"': "infected-system",
  'ecsirt:malicious-code="botnet-drone"': "infected-system",
  'ecsirt:malicious-code="ransomware"': "infected-system",
  'ecsirt:malicious-code="malware-configuration"': "malware-configuration",
  'ecsirt:malicious-code="c2server"': "c2-server",
  'ecsirt:intrusion-attempts="exploit"': "exploit",
  'ecsirt:intrusion-attempts="brute-force"': "brute-force",
  'ecsirt:intrusion-attempts="ids-alert"': "ids-alert",
  'ecsirt:intrusions="defacement"': "unauthorised-information-modification",
  'ecsirt:intrusions="compromised"': "system-compromise",
  'ecsirt:intrusions="backdoor"': "system-compromise",
  'ecsirt:vulnerable="vulnerable-service"': "vulnerable-system",
  'ecsirt:other="blacklist"': "blacklist",
  'ecsirt:other="unknown"': "undetermined",
  'ecsirt:test="test"': "test",
};

/** The attribute categories that give events. */
export const SUPPORTED_MISP_CATEGORIES: readonly string[] = ["Payload delivery", "Artifacts dropped", "Payload installation", "Network activity"];

/** Attribute type -> field. */
export const MISP_TYPE_MAPPING: Readonly<Record<string, string>> = {
  domain: "source.fqdn",
  hostname: "source.fqdn",
  md5: "malware.hash.md5",
  sha1: "malware.hash.sha1",
  "ip-src": "source.ip",
  "ip-dst": "source.ip",
  "email-src": "source.account",
  url: "source.url",
};

/** What all attributes of one MISP event share. */
interface Shared { uuid: unknown; url: string; classifier: string | null; identifier: string | null; malware: string | null }
interface Row { attribute: unknown; shared: Shared }

const rawOf = (v: unknown) => pyJsonDumps(v, { sortKeys: true });

function create(_prm: unknown, ctx: BotContext) {
  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const misp = jsonObject(report, "misp");
      let classifier: string | null = null;
      let identifier: string | null = null;
      const tags = misp["Tag"];
      if (Array.isArray(tags)) {
        for (const tag of tags) {
          const name = isJsonObject(tag) ? tag["name"] : undefined;
          if (name === "dropzone") identifier = "dropzone";
          if (typeof name === "string" && Object.hasOwn(MISP_TAXONOMY_MAPPING, name)) {
            classifier = MISP_TAXONOMY_MAPPING[name]!;
            break;
          }
        }
      }
      const own = misp["Attribute"];
      if (!Array.isArray(own)) throw new DecodingError(`misp: the MISP event has no Attribute list (${jsonKind(own ?? null)})`, { object: "Attribute" });
      const attributes: unknown[] = [...own];
      const objects = misp["Object"];
      if (Array.isArray(objects)) {
        for (const obj of objects) if (isJsonObject(obj) && Array.isArray(obj["Attribute"])) attributes.push(...(obj["Attribute"] as unknown[]));
      }
      // the malware: the (last) attribute of category "Payload type"
      let malware: string | null = null;
      for (const a of attributes) if (isJsonObject(a) && a["category"] === "Payload type" && typeof a["value"] === "string") malware = a["value"].toLowerCase();
      const feedUrl = report.get("feed.url");
      let url: string;
      try {
        url = new URL(`events/view/${String(misp["id"])}`, String(feedUrl)).href;
      } catch {
        throw new DecodingError(`misp: no MISP event URL from feed.url ${JSON.stringify(feedUrl ?? null)}`, { object: feedUrl });
      }
      const shared: Shared = { uuid: misp["uuid"], url, classifier, identifier, malware };
      if (attributes.length === 0) yield skipLine(reportText(report), "the MISP event has no attributes");
      for (const attribute of attributes) yield { attribute, shared };
    },

    parseLine({ attribute, shared }: Row, report: Report): Event | SkippedLine {
      if (!isJsonObject(attribute)) throw new LineError(`an attribute is not a JSON object but ${jsonKind(attribute)}`);
      const category = attribute["category"];
      const type = attribute["type"];
      if (typeof category !== "string" || !SUPPORTED_MISP_CATEGORIES.includes(category) || typeof type !== "string" || !Object.hasOwn(MISP_TYPE_MAPPING, type)) {
        return skipLine(rawOf(attribute), `attribute of category ${JSON.stringify(category)} and type ${JSON.stringify(type)}: not one that gives events`);
      }
      for (const key of ["value", "uuid", "comment", "timestamp"]) if (!(key in attribute)) throw new LineError(`the attribute has no ${key}`);
      const event = ctx.newEvent(report);
      event.add("raw", rawOf(attribute));
      event.add(MISP_TYPE_MAPPING[type]!, attribute["value"]);
      event.add("misp.event_uuid", shared.uuid);
      event.add("misp.attribute_uuid", attribute["uuid"]);
      event.add("comment", attribute["comment"]);
      event.add("event_description.text", category);
      event.add("event_description.url", shared.url);
      event.add("malware.name", shared.malware, { raiseFailure: false });
      event.add("classification.type", shared.classifier);
      event.add("classification.identifier", shared.identifier);
      event.add("time.source", fromTimestamp(attribute["timestamp"]));
      return event;
    },

    recoverLine: ({ attribute }: Row) => rawOf(attribute),
  };
}

export default defineParser({
  name: "misp",
  intelmq: "intelmq.bots.parsers.misp.parser",
  description: "Parse MISP events: one event per attribute of a supported category and type",
  params,
  create,
});
