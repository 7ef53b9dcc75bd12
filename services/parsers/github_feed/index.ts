// SPDX-License-Identifier: AGPL-3.0-only
/**
 * GitHub feeds parser: IoC lists published in GitHub repositories, as the GitHub API collector
 * fetches them; known feed: StrangerealIntel/DailyIOC (IntelMQ's intelmq.bots.parsers.github_feed.parser).
 */
import { z } from "zod";
import {
  DecodingError, LineError, emptyList, defineParser, isJsonObject, jsonKind, parseIp, parserParams, pyRepr, reportText, skipLine,
  type BotContext, type Event, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** The feeds known, by a part of their feed.url. */
const FEEDS = ["StrangerealIntel/DailyIOC"] as const;

const HASHES: readonly [string, RegExp][] = [["sha1", /^[0-9a-f]{40}$/i], ["sha256", /^[0-9a-f]{64}$/i], ["md5", /^[0-9a-f]{32}$/i]];
// a host name of labels, the last one (the TLD) ending in a letter
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9_-]{0,61}[a-z]$/i;
const URL_RE = /^(?:https?|ftps?):\/\/(?:[^\s:@/]+(?::[^\s@/]*)?@)?(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::\d{1,5})?(?:[/?#]\S*)?$/i;

function isIp(s: string): boolean {
  try { return parseIp(s) !== null; } catch { return false; }
}

interface Row { ioc: unknown }

function create(_prm: unknown, ctx: BotContext) {
  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const url = report.get("feed.url");
      if (typeof url !== "string" || !FEEDS.some((f) => url.includes(f))) {
        throw new DecodingError(`github_feed: unknown feed ${JSON.stringify(url ?? null)}; known: ${FEEDS.join(", ")}`, { object: url });
      }
      // the feed writes Python's repr: single quotes
      const text = reportText(report).replace(/'/g, "\"");
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        throw new DecodingError(`github_feed: the report is not JSON: ${(err as Error).message}`, { object: text.slice(0, 200) });
      }
      if (!Array.isArray(doc)) throw new DecodingError(`github_feed: the report is not a JSON list but ${jsonKind(doc)}`, { object: jsonKind(doc) });
      if (doc.length === 0) yield emptyList(report);
      for (const ioc of doc) yield { ioc };
    },

    parseLine({ ioc }: Row, report: Report) {
      if (!isJsonObject(ioc)) throw new LineError(`an IoC is not a JSON object but ${jsonKind(ioc)}`);
      const event: Event = ctx.newEvent(report);
      const meta = report.get("extra.file_metadata");
      if (isJsonObject(meta)) for (const [k, v] of Object.entries(meta)) event.add(`extra.file_metadata.${k}`, v);
      event.add("raw", pyRepr(ioc));
      event.add("classification.type", "malware");
      event.add("classification.taxonomy", "other");
      if (!("Description" in ioc)) throw new LineError("the IoC has no Description");
      event.add("event_description.text", ioc["Description"]);
      const indicator = ioc["Indicator"];
      if (typeof indicator !== "string") throw new LineError(`the IoC's Indicator is not text: ${pyRepr(indicator ?? null)}`);
      for (const [kind, re] of HASHES) {
        if (re.test(indicator)) {
          event.add(`malware.hash.${kind}`, indicator);
          return event;
        }
      }
      if (DOMAIN.test(indicator)) event.add("source.fqdn", indicator);
      else if (isIp(indicator)) event.add("source.ip", indicator);
      else if (URL_RE.test(indicator)) event.add("source.url", indicator);
      else {
        const why = `IoC ${JSON.stringify(indicator.replace(/\./g, "[.]"))} is none of hash, domain, IP address, URL`;
        ctx.log.warn(why);
        return skipLine(pyRepr(ioc), why);
      }
      return event;
    },

    recoverLine: ({ ioc }: Row) => pyRepr(ioc),
  };
}

export default defineParser({
  name: "github_feed",
  intelmq: "intelmq.bots.parsers.github_feed.parser",
  description: "Parse IoC feeds published on GitHub (StrangerealIntel/DailyIOC)",
  params,
  create,
});
