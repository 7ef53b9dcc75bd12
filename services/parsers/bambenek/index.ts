// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Bambenek parser: the C2 IP, C2 domain and DGA domain feeds of Bambenek Consulting, told apart
 * by the report's feed.url (IntelMQ's intelmq.bots.parsers.bambenek.parser).
 */
import { z } from "zod";
import { addRequired, commentHeader, defineParser, excerpt, LineError, parserParams } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const FEEDS = (...paths: string[]) => new Set(paths.flatMap((p) => [`http://osint.bambenekconsulting.com/feeds/${p}`, `https://osint.bambenekconsulting.com/feeds/${p}`]));
const IP_MASTER = FEEDS("c2-ipmasterlist.txt").add("https://faf.bambenekconsulting.com/feeds/dga/c2-ipmasterlist.txt");
const DOMAIN_MASTER = FEEDS("c2-dommasterlist.txt").add("https://faf.bambenekconsulting.com/feeds/dga/c2-dommasterlist.txt");
const DGA = FEEDS("dga-feed.txt").add("https://faf.bambenekconsulting.com/feeds/dga-feed.txt");
const MALWARE_NAMES: Record<string, string> = { cl: "cryptolocker", p2pgoz: "p2p goz", ptgoz: "pt goz", volatile: "volatile cedar" };

export default defineParser({
  name: "bambenek",
  intelmq: "intelmq.bots.parsers.bambenek.parser",
  description: "Parses the Bambenek C2 IP, C2 domain and DGA domain feeds",
  params,
  create: (_prm, ctx) => {
    // Comment lines are kept to rebuild failed lines as IntelMQ does.
    return commentHeader((line, report) => {
      const value = line.split(",");
      // name or address, description, time, documentation URL (IntelMQ fails shorter lines with an IndexError)
      if (value.length < 4) throw new LineError(`a record has 4 comma-separated columns, this line ${value.length}: ${excerpt(line)}`);
      const event = ctx.newEvent(report);
      event.add("event_description.text", value[1]);
      event.add("event_description.url", value[3]);
      event.add("raw", line);
      // The last column links the malware's description file: its name is the malware's.
      const name = value[value.length - 1]!.split("/").pop()!.split(".")[0]!;
      event.add("malware.name", MALWARE_NAMES[name] ?? name);
      const url = String(report.get("feed.url") ?? "");
      if (IP_MASTER.has(url)) {
        addRequired(event, "source.ip", value[0]);
        event.add("time.source", `${value[2]} UTC`);
        event.add("classification.type", "c2-server");
        event.add("status", "online");
      } else if (DOMAIN_MASTER.has(url)) {
        addRequired(event, "source.fqdn", value[0]);
        event.add("time.source", `${value[2]} UTC`);
        event.add("classification.type", "c2-server");
        event.add("status", "online");
      } else if (DGA.has(url)) {
        addRequired(event, "source.fqdn", value[0]);
        event.add("time.source", `${value[2]} 00:00 UTC`);
        event.add("classification.type", "dga-domain");
      } else {
        throw new Error(`Unknown data feed ${url}.`);
      }
      return event;
    });
  },
});
