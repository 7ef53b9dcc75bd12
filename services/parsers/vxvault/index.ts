// SPDX-License-Identifier: AGPL-3.0-only
/**
 * VXVault parser: the malware URL list of vxvault.net, a three-line header (with the list's
 * date) then one URL per line (IntelMQ's intelmq.bots.parsers.vxvault.parser).
 */
import { z } from "zod";
import { urlsplit, urlunsplit, type Report, defineParser, excerpt, LineError, parserParams, reportText, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Host and port of a URL's netloc as Python's urlparse() reads them (port null when absent). */
function hostAndPort(netloc: string): { host: string; port: number | null } {
  const hostinfo = netloc.slice(netloc.lastIndexOf("@") + 1);
  const close = hostinfo.indexOf("]");
  const bracketed = hostinfo.startsWith("[") && close > 0;
  const host = bracketed ? hostinfo.slice(1, close) : hostinfo.split(":")[0]!;
  const rest = bracketed ? hostinfo.slice(close + 1) : hostinfo.slice(host.length);
  const portText = rest.startsWith(":") ? rest.slice(1) : "";
  return { host: host.toLowerCase(), port: /^\d+$/.test(portText) ? Number(portText) : null };
}

/** A line of nothing but HTML tags or comments (the list comes inside <pre>...</pre>). */
const MARKUP = /^(?:<[^<>]*>\s*)+$/;

export default defineParser({
  name: "vxvault",
  intelmq: "intelmq.bots.parsers.vxvault.parser",
  description: "Parses the VXVault malware URL list",
  params,
  create: (_prm, ctx) => {
    // The header of the report being parsed: its third line is the list's date.
    let header: string[] = [];
    return {
      *parse(report: Report) {
        const lines = reportText(report).trim().split(/\r\n|\r|\n/);
        // As IntelMQ: three header lines (the third is the list's date), then a blank line.
        header = lines.slice(0, 3);
        for (const [i, line] of lines.slice(0, 4).entries()) {
          const t = line.trim();
          // a URL where the header should be is data all the same
          if (t.startsWith("http")) yield t;
          else if (t !== "") yield skipLine(t, i < 3 ? "header" : "separator");
        }
        for (const line of lines.slice(4)) yield line.trim();
      },
      parseLine(item, report) {
        const row = String(item);
        if (!row.startsWith("http")) {
          if (MARKUP.test(row)) return skipLine(row, "HTML markup");
          throw new LineError(`not a URL: ${excerpt(row)}`);
        }
        const parts = urlsplit(row);
        if (!parts) throw new LineError(`malformed URL: ${excerpt(row)}`);
        const { host, port } = hostAndPort(parts.netloc);
        const event = ctx.newEvent(report);
        if (!event.add("source.ip", host, { raiseFailure: false })) event.add("source.fqdn", host);
        event.add("classification.type", "malware-distribution");
        event.add("source.url", urlunsplit(parts));
        if (port) event.add("source.port", port);
        event.add("raw", row);
        event.add("time.source", header[2]);
        return event;
      },
      recoverLine(item) {
        return [...header, String(item)].join("\n");
      },
    };
  },
});
