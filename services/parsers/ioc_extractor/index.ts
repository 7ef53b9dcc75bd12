// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IoC extractor (formerly the Twitter parser): URLs of malicious sites found in free text such as
 * tweets, also when defanged ("hxxp://example[.]com"), each word checked for a known public suffix
 * (IntelMQ's intelmq.bots.parsers.ioc_extractor.parser, formerly intelmq.bots.parsers.twitter.parser).
 */
import { z } from "zod";
import { parse as parseDomain } from "tldts";
import {
  InvalidArgument, defineParser, parserParams, pyRegex, reportText, skipLine, types, type BotContext, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({
  ...parserParams,
  default_scheme: z.string().nullable().default(null).describe("Scheme of URLs found without one (null: https)"),
  domain_whitelist: z.string().default("t.co").describe("Comma-separated regular expressions: domains matching one are ignored"),
  substitutions: z.string().default(".net;[.]net")
    .describe("Semicolon-separated pairs of text to replace before searching, e.g. \"[.];.\" reads \"example[.]com\" as \"example.com\""),
  classification_type: z.string().default("blacklist").describe("classification.type of the events (unknown when not a valid type)"),
}).strict();

export type Params = z.infer<typeof params>;

// a host name (ending in letters) at the start of a word or after "//", with its port and path
const CANDIDATE = /(\/\/|^)([a-z0-9.-]*[a-z]\.[a-z][a-z-]*?(?:[/:].*|$))/;

interface Row { url: string; text: string }

function create(prm: Params, ctx: BotContext) {
  const whitelist = prm.domain_whitelist === "" ? [] : prm.domain_whitelist.split(",").map((w) => pyRegex(w));
  const subs: [string, string][] = [];
  if (prm.substitutions !== "") {
    const parts = prm.substitutions.split(";");
    if (parts.length % 2 !== 0) throw new InvalidArgument("substitutions", prm.substitutions, "even number of ; separated strings");
    for (let i = 0; i < parts.length; i += 2) subs.push([parts[i]!, parts[i + 1]!]);
  }
  const type = types.ClassificationType.isValid(prm.classification_type, false) ? prm.classification_type : "unknown";
  const scheme = prm.default_scheme ?? "https";

  /** The URL of a word, normalized, if it holds a host under a known public suffix. */
  function urlOf(word: string): string | null {
    const m = CANDIDATE.exec(word);
    if (!m) return null;
    const candidate = m[2]!;
    if (whitelist.some((re) => re.test(candidate))) return null;
    let url: URL;
    try {
      url = new URL(candidate.includes("://") ? candidate : `${scheme}://${candidate}`);
    } catch {
      ctx.log.info(`Could not read ${JSON.stringify(word)} as a URL.`);
      return null;
    }
    const host = parseDomain(url.hostname, { allowPrivateDomains: true });
    if (!host.domain || !(host.isIcann || host.isPrivate)) return null;
    return url.href;
  }

  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const text = reportText(report);
      let search = text;
      for (const [from, to] of subs) search = search.split(from).join(to);
      let found = 0;
      for (const word of search.split(/\s+/)) {
        const url = word === "" ? null : urlOf(word.toLowerCase());
        if (url) { found++; yield { url, text }; }
      }
      if (found === 0) yield skipLine(text, "no URL in the text");
    },

    parseLine(row: Row, report: Report) {
      const event = ctx.newEvent(report);
      event.add("raw", row.text);
      event.add("source.url", row.url);
      event.add("classification.type", type);
      return event;
    },

    recoverLine: (row: Row) => row.text,
  };
}

export default defineParser({
  name: "ioc_extractor",
  intelmq: ["intelmq.bots.parsers.ioc_extractor.parser", "intelmq.bots.parsers.twitter.parser"],
  description: "Extract URLs of malicious sites from free text such as tweets, also defanged ones",
  params,
  create,
});
