// SPDX-License-Identifier: AGPL-3.0-only
/**
 * n6 parser: events of CERT.pl's n6 platform (one JSON object per report, as the n6 STOMP
 * collector receives them) (IntelMQ's intelmq.bots.parsers.n6.parser_n6stomp).
 */
import { z } from "zod";
import {
  LineError, callTypeMethod, defineParser, isJsonObject, jsonKind, jsonObject, parserParams, reportText, skipLine,
  type BotContext, type Event, type Report, type SkippedLine,
} from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

interface Category { taxonomy: string; type: string; identifier: string }
const cat = (taxonomy: string, type: string, identifier: string): Category => ({ taxonomy, type, identifier });

/** n6 category -> classification. */
export const CATEGORIES: Readonly<Record<string, Category>> = {
  amplifier: cat("vulnerable", "vulnerable-system", "amplifier"),
  bots: cat("malicious-code", "infected-system", "malware-generic"),
  backdoor: cat("intrusions", "system-compromise", "hacked server"),
  cnc: cat("malicious-code", "c2-server", "c&c server"),
  "dns-query": cat("other", "other", "dns-query"),
  "dos-attacker": cat("availability", "ddos", "dos-attacker"),
  "dos-victim": cat("availability", "ddos", "dos-victim"),
  flow: cat("other", "other", "flow"),
  "flow-anomaly": cat("other", "other", "flow-anomaly"),
  fraud: cat("fraud", "account numbers", "fraud"),
  leak: cat("information-content-security", "data-leak", "leak"),
  malurl: cat("malicious-code", "exploit", "malurl"),
  "malware-action": cat("malicious-code", "malware-configuration", "malware-configuration"),
  phish: cat("fraud", "phishing", "phishing"),
  proxy: cat("other", "proxy", "openproxy"),
  "sandbox-url": cat("malicious-code", "infected-system", "sandboxurl"),
  scanning: cat("information-gathering", "scanner", "scanning"),
  "server-exploit": cat("malicious-code", "exploit", "server-exploit"),
  spam: cat("abusive-content", "spam", "spam"),
  "spam-url": cat("abusive-content", "spam", "spam-url"),
  tor: cat("other", "tor", "tor exit node"),
  webinject: cat("malicious-code", "malware-distribution", "malware"),
  vulnerable: cat("vulnerable", "other", "vulnerable"),
  other: cat("other", "other", "other"),
};

/** n6 key -> field, added when present. */
const PLAIN: readonly [string, string][] = [
  ["time", "time.source"], ["dip", "destination.ip"], ["dport", "destination.port"], ["md5", "malware.hash.md5"], ["sha1", "malware.hash.sha1"],
];
const AFTER_FQDN: readonly [string, string][] = [
  ["id", "extra.feed_id"], ["adip", "extra.adip"], ["proto", "protocol.transport"], ["sport", "source.port"], ["url", "source.url"],
  ["confidence", "extra.confidence"],
];

function create(_prm: unknown, ctx: BotContext) {
  // the report's text: a failed event is dumped with all of it
  let current = "";
  return {
    *parse(report: Report): Iterable<Record<string, unknown> | SkippedLine> {
      const text = reportText(report);
      current = text;
      // n6 sends test messages now and then
      if (text.includes("TEST MESSAGE")) {
        yield skipLine(text, "n6 test message");
        return;
      }
      yield jsonObject(report, "n6");
    },

    parseLine(n6: Record<string, unknown>, report: Report): Event[] {
      const event = ctx.newEvent(report);
      event.add("raw", report.get("raw"), { sanitize: false });
      const has = (k: string) => Object.hasOwn(n6, k);
      for (const [k, field] of PLAIN) if (has(k)) event.add(field, n6[k]);
      if (has("fqdn") && n6["fqdn"] !== "unknown") event.add("source.fqdn", n6["fqdn"]);
      for (const [k, field] of AFTER_FQDN) if (has(k)) event.add(field, n6[k], { overwrite: k === "id" || k === "adip" });
      if (has("expires")) event.add("extra.expires", callTypeMethod("DateTime", "sanitize", { value: n6["expires"] }));
      if (has("source")) event.add("extra.feed_source", n6["source"]);
      let botsIdentifier = "malware-generic";
      if (has("name")) {
        const name = n6["name"];
        botsIdentifier = String(name);
        if (!event.add("malware.name", name, { raiseFailure: false })) {
          // names with characters beyond printable ASCII: those are dropped, the name kept as description
          event.add("malware.name", String(name).replace(/[^ -~]/g, ""));
          event.add("event_description.text", name);
        }
      }
      if (!has("type")) throw new LineError("the n6 event has no type");
      if (n6["type"] === "bl-update") {
        event.add("classification.taxonomy", "other");
        event.add("classification.type", "blacklist");
      } else {
        if (!has("category")) throw new LineError("the n6 event has no category");
        const category = n6["category"];
        if (category !== null) {
          const c = typeof category === "string" ? CATEGORIES[category] : undefined;
          if (!c) throw new LineError(`unknown n6 category ${JSON.stringify(category)}`);
          event.add("classification.taxonomy", c.taxonomy, { overwrite: true });
          event.add("classification.type", c.type, { overwrite: true });
          event.add("classification.identifier", category === "bots" ? botsIdentifier : c.identifier, { overwrite: true });
        }
      }
      const out: Event[] = [];
      const addresses = n6["address"] ?? [];
      if (!Array.isArray(addresses)) throw new LineError(`address is not a list but ${jsonKind(addresses)}`);
      for (const addr of addresses) {
        if (!isJsonObject(addr) || !Object.hasOwn(addr, "ip")) throw new LineError("an entry of address has no ip");
        const ev = event.copy();
        ev.add("source.ip", addr["ip"]);
        if (Object.hasOwn(addr, "asn")) ev.add("source.asn", addr["asn"]);
        if (Object.hasOwn(addr, "rdns")) ev.add("source.reverse_dns", addr["rdns"]);
        if (Object.hasOwn(addr, "cc")) ev.add("source.geolocation.cc", addr["cc"]);
        out.push(ev);
      }
      // as IntelMQ: the event without address is sent too, also when there were addresses
      out.push(event);
      return out;
    },

    recoverLine: () => current,
  };
}

export default defineParser({
  name: "n6",
  intelmq: "intelmq.bots.parsers.n6.parser_n6stomp",
  description: "Parse events of CERT.pl's n6 platform (one JSON object per report)",
  params,
  create,
});
