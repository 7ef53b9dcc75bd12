// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Dyn parser: the ponmocup list of infected web servers and the malware domains they redirect to
 * (IntelMQ's intelmq.bots.parsers.dyn.parser). Each line gives two events: the malware host seen
 * from the infected domain, and the infected (compromised) server.
 */
import { z } from "zod";
import { LineError, addRequired, dateutilParse, defineParser, excerpt, isoformat, parserParams, rawLines, skipLine, type Report } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** A data line with the time of the report's "# last updated:" header above it (null before any). */
interface Row { line: string; time: string | null; header?: boolean }

const UPDATED = "# last updated:";
/** The zone names the feed writes, as offsets dateutil reads (IntelMQ passes them as tzinfos). */
const ZONES: Readonly<Record<string, string>> = { PST: "-0800", PDT: "-0700" };

/** The time of a "# last updated: Tue Mar 15 00:47:49 PDT 2016" header, or null if unreadable. */
export function updatedTime(header: string): string | null {
  const text = header.slice(header.indexOf(":") + 1).replace(/\b(PST|PDT)\b/g, (z) => ZONES[z]!);
  const t = dateutilParse(text, { fuzzy: false });
  return t ? isoformat(t) : null;
}

export default defineParser({
  name: "dyn",
  intelmq: "intelmq.bots.parsers.dyn.parser",
  description: "Parses the DynDNS ponmocup list: malware redirection domains and the infected web servers",
  params,
  create: (_prm, ctx) => ({
    *parse(report: Report): Generator<Row | ReturnType<typeof skipLine>> {
      let time: string | null = null;
      for (const line of rawLines(report)) {
        if (line.startsWith(UPDATED)) {
          time = updatedTime(line);
          // an unreadable header fails alone (its lines go on without time.source)
          if (time === null) yield { line, time, header: true };
          else yield skipLine(line, "header: last updated");
        } else if (line.startsWith("#")) yield skipLine(line, "comment");
        else if (line.trim() !== "") yield { line, time };
      }
    },
    parseLine(row: Row, report) {
      const { line, time } = row;
      if (row.header) throw new LineError(`the time of the "last updated" header is unreadable: ${excerpt(line)}`);
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) throw new LineError(`${cols.length} columns where IP, domain, URL and infected domain were expected: ${excerpt(line)}`);
      const [ip, domain, url, infected] = cols as [string, string, string, string];
      const malware = ctx.newEvent(report);
      malware.add("time.source", time);
      malware.add("classification.type", "malware-distribution");
      if (ip !== "/") malware.add("source.ip", ip);
      addRequired(malware, "source.fqdn", domain);
      malware.add("source.url", url);
      malware.add("destination.fqdn", infected);
      malware.add("event_description.text", "has malicious code redirecting to malicious host");
      malware.add("raw", line);
      const compromised = ctx.newEvent(report);
      compromised.add("time.source", time);
      compromised.add("classification.type", "system-compromise");
      if (ip !== "/") compromised.add("destination.ip", ip);
      compromised.add("destination.fqdn", domain);
      compromised.add("destination.url", url);
      compromised.add("source.fqdn", infected);
      compromised.add("event_description.text", "host has been compromised and has malicious code infecting users");
      compromised.add("raw", line);
      return [malware, compromised];
    },
    recoverLine: (row: Row) => row.line,
  }),
});
