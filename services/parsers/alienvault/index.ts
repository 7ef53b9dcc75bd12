// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AlienVault parser: the IP reputation list, `ip#risk#reliability#activities#cc#city#lat,long#x`
 * per line; one event per activity (IntelMQ's intelmq.bots.parsers.alienvault.parser).
 */
import { z } from "zod";
import { LineError, addRequired, defineParser, excerpt, parserParams, type Event } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Activity (lower case) -> classification.type; any other activity is "undetermined". */
export const CLASSIFICATION: Readonly<Record<string, string>> = {
  "c2server": "c2-server",
  "scanning host": "scanner",
  "malicious host": "infected-system",
  "spamming": "spam",
  "malware domain": "malware-distribution",
  "malware ip": "malware-distribution",
  "malware distribution": "malware-distribution",
};

export default defineParser({
  name: "alienvault",
  intelmq: "intelmq.bots.parsers.alienvault.parser",
  description: "Parses the AlienVault IP reputation list: one event per listed activity of an address",
  params,
  create: (_prm, ctx) => ({
    parseLine(line, report) {
      const cols = line.split("#");
      if (cols.length < 7) throw new LineError(`${cols.length} "#"-separated columns where at least 7 were expected: ${excerpt(line)}`);
      const activity = cols[3]!;
      // several activities are separated by ";" (one at the very start does not count, as in IntelMQ)
      const activities = activity.trim().indexOf(";") > 0 ? activity.split(";") : [activity];
      const coords = cols[6]!.trim().split(",");
      // IntelMQ fails such a line too: it has no coordinates to add
      if (cols[6]!.trim() === "" || coords.length !== 2) throw new LineError(`no "latitude,longitude" in the 7th column: ${excerpt(line)}`);
      return activities.map((a): Event => {
        const event = ctx.newEvent(report);
        event.add("classification.type", CLASSIFICATION[a.toLowerCase()] ?? "undetermined");
        addRequired(event, "source.ip", cols[0]!.trim());
        event.add("source.geolocation.cc", cols[4]!.trim());
        event.add("source.geolocation.city", cols[5]!.trim());
        event.add("source.geolocation.latitude", coords[0]!.trim());
        event.add("source.geolocation.longitude", coords[1]!.trim());
        event.add("raw", line);
        return event;
      });
    },
  }),
});
