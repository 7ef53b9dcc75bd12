// SPDX-License-Identifier: AGPL-3.0-only
/**
 * McAfee Advanced Threat Defense parser: an ATD analysis report (JSON) into one event per IoC: the
 * sample's hashes, each dropped file, and each IP address and URL the sample contacted
 * (IntelMQ's intelmq.bots.parsers.mcafee.parser_atd).
 */
import { z } from "zod";
import {
  DecodingError, defineParser, isJsonObject, jsonKind, jsonObject, p, parserParams, reportText, skipLine, LineError,
  type BotContext, type Event, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({
  ...parserParams,
  verdict_severity: p.int().default(4).describe("Lowest verdict severity (1 to 5) of the reports that are parsed"),
}).strict();

export type Params = z.infer<typeof params>;

/** Keys of the dropped files, IP addresses and URLs -> fields. */
export const ATD_TYPE_MAPPING: Readonly<Record<string, string>> = {
  domain: "source.fqdn",
  hostname: "source.fqdn",
  Name: "malware.name",
  Md5: "malware.hash.md5",
  Sha1: "malware.hash.sha1",
  Sha256: "malware.hash.sha256",
  Ipv4: "destination.ip",
  Port: "destination.port",
  Url: "destination.fqdn",
};

interface Subject { name: unknown; md5: unknown; sha1: unknown; sha256: unknown }
/** One IoC of the report: the sample itself, or an entry of Files, Ips or Urls. */
interface Row { text: string; subject: Subject; part: "Subject" | "Files" | "Ips" | "Urls"; entry?: unknown }

function create(prm: Params, ctx: BotContext) {
  function base(report: Report, text: string): Event {
    const event = ctx.newEvent(report);
    event.add("classification.taxonomy", "malicious-code");
    event.add("classification.type", "infected-system");
    event.add("raw", text);
    return event;
  }
  function addSubject(event: Event, s: Subject): void {
    event.add("malware.name", s.name);
    event.add("malware.hash.md5", s.md5);
    event.add("malware.hash.sha1", s.sha1);
    event.add("malware.hash.sha256", s.sha256);
  }

  return {
    *parse(report: Report): Iterable<Row | SkippedLine> {
      const text = reportText(report);
      const doc = jsonObject(report, "mcafee");
      const summary = doc["Summary"];
      if (!isJsonObject(summary)) throw new DecodingError(`mcafee: the report has no Summary object (${jsonKind(summary ?? null)})`, { object: "Summary" });
      const sub = summary["Subject"];
      if (!isJsonObject(sub)) throw new DecodingError(`mcafee: the report has no Summary.Subject object (${jsonKind(sub ?? null)})`, { object: "Subject" });
      for (const k of ["Name", "md5", "sha-1", "sha-256"]) if (!(k in sub)) throw new DecodingError(`mcafee: Summary.Subject has no ${k}`, { object: k });
      const verdict = summary["Verdict"];
      const severity = isJsonObject(verdict) ? Number(String(verdict["Severity"] ?? "").trim()) : NaN;
      if (!Number.isInteger(severity)) throw new DecodingError("mcafee: Summary.Verdict.Severity is not an integer", { object: "Severity" });
      if (severity < prm.verdict_severity) {
        yield skipLine(text, `verdict severity ${severity} is below verdict_severity ${prm.verdict_severity}`);
        return;
      }
      const subject: Subject = { name: sub["Name"], md5: sub["md5"], sha1: sub["sha-1"], sha256: sub["sha-256"] };
      yield { text, subject, part: "Subject" };
      for (const part of ["Files", "Ips", "Urls"] as const) {
        const list = summary[part];
        if (list === undefined) continue;
        if (!Array.isArray(list)) throw new DecodingError(`mcafee: Summary.${part} is not a list but ${jsonKind(list)}`, { object: part });
        for (const entry of list) yield { text, subject, part, entry };
      }
    },

    parseLine(row: Row, report: Report): Event {
      const event = base(report, row.text);
      if (row.part === "Subject") {
        addSubject(event, row.subject);
        return event;
      }
      if (!isJsonObject(row.entry)) throw new LineError(`an entry of Summary.${row.part} is not a JSON object but ${jsonKind(row.entry)}`);
      // dropped files stand for themselves; addresses and URLs belong to the sample
      if (row.part !== "Files") addSubject(event, row.subject);
      for (const [key, value] of Object.entries(row.entry)) {
        const field = ATD_TYPE_MAPPING[key];
        if (field) event.add(field, value);
      }
      return event;
    },

    recoverLine: (row: Row) => row.text,
  };
}

export default defineParser({
  name: "mcafee",
  intelmq: "intelmq.bots.parsers.mcafee.parser_atd",
  description: "Parse McAfee Advanced Threat Defense reports: sample hashes, dropped files, contacted IPs and URLs",
  params,
  create,
});
