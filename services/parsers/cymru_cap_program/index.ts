// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Team Cymru CAP program parser: the pipe-separated CAP reports in both formats, the old one
 * ("# Data file written at ...", report|ip|asn|timestamp|comments|asn_name) and the new one
 * ("#generated on ...", category|address|asn|timestamp|optional_information|asninfo), told
 * apart by the header (IntelMQ's intelmq.bots.parsers.cymru.parser_cap_program).
 */
import { z } from "zod";
import { DecodingError, type Event, type Report, addRequired, defineParser, parserParams, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** Fields every line of a new-format category gets. */
export const CATEGORIES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  bot: { "classification.type": "infected-system" },
  bruteforce: { "classification.type": "brute-force" },
  controller: { "classification.type": "c2-server" },
  darknet: { "classification.type": "scanner", "classification.identifier": "darknet" },
  phishing: { "classification.type": "phishing", "classification.identifier": "phishing" },
  proxy: { "classification.type": "proxy", "classification.identifier": "openproxy" },
  honeypot: { "classification.type": "scanner" },
  openresolvers: { "classification.type": "vulnerable-system", "classification.identifier": "dns-open-resolver", "protocol.application": "dns" },
  openresolver: { "classification.type": "vulnerable-system", "classification.identifier": "dns-open-resolver", "protocol.application": "dns" },
  scanner: { "classification.type": "scanner", "classification.identifier": "scanner" },
  spam: { "classification.type": "spam", "classification.identifier": "spam" },
  conficker: { "classification.type": "infected-system", "classification.identifier": "conficker", "malware.name": "conficker" },
};

/** IP protocol numbers the feed uses; numbers from 143 up (unassigned, testing) go to extra. */
const PROTOCOLS: Readonly<Record<string, string>> = { 1: "icmp", 6: "tcp", 11: "nvp-ii", 17: "udp", 47: "gre", 59: "ipv6-nonxt" };
/** Some lines lack the ";" between hostname and port: "hostname: sub.example.comport: 80". */
const BOGUS_HOSTNAME_PORT = /hostname: ([^:]+)port: ([0-9]+)/;
const TOTAL_COUNT = / \(total_count:\d+\)$/;
const OLD_INFECTED = new Set(["blaster", "dameware", "dipnet", "mydoom", "nachi", "phatbot", "sinit", "slammer"]);
const OLD_BOT_KEYS = new Set(["srcport", "mwtype", "destaddr", "dstaddr"]);

type Format = "old" | "new";

/** Python's int() of a decimal text, or a DecodingError naming what it is. */
function toInt(s: string, what: string, line: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(s)) throw new DecodingError(`${what} ${JSON.stringify(s)} is no number`, { object: line });
  return Number.parseInt(s, 10);
}

/** The six pipe-separated columns of a line. */
function columns(line: string): string[] {
  const f = line.split("|");
  if (f.length !== 6) throw new DecodingError(`line has ${f.length} fields, the CAP format has 6`, { object: line });
  return f;
}

/** `event[key] = value` of IntelMQ: add with overwrite. */
const put = (event: Event, key: string, value: unknown) => event.add(key, value, { overwrite: true });

/**
 * The old comment of bots lines: "[srcport <port>] [mwtype <type, may have spaces>] [destaddr <ip>] [text]".
 * Words after the destination address are a free description.
 */
function parseOldBotComment(words: readonly string[], event: Event, line: string): void {
  const results = new Map<string, string>();
  let key: string | null = null;
  let value: string[] = [];
  const description: string[] = [];
  for (const word of [...words, null]) {
    if (word === null || OLD_BOT_KEYS.has(word)) {
      if (key && value.length) results.set(key, value.join(" "));
      key = word;
      value = [];
    } else if (key === "destaddr" && value.length === 1) {
      description.push(word);
    } else {
      value.push(word);
    }
  }
  for (const [k, v] of results) {
    if (k === "srcport") put(event, "extra.source_port", toInt(v, "srcport", line));
    else if (k === "mwtype") {
      put(event, "classification.identifier", v.toLowerCase());
      put(event, "malware.name", v.toLowerCase());
    } else put(event, "destination.ip", v);
  }
  if (description.length) event.add("event_description.text", description.join(" "));
}

export default defineParser({
  name: "cymru_cap_program",
  intelmq: "intelmq.bots.parsers.cymru.parser_cap_program",
  description: "Parses the Team Cymru CAP program reports (old and new format)",
  params,
  create: (_prm, ctx) => {
    // Comment lines head every event's raw; one of them says which format the report has.
    let header: string[] = [];
    let format: Format | null = null;
    const recover = (line: string) => [...header, line].join("\n");

    function* parseOld(line: string, report: Report): Generator<Event> {
      const [type, ip, asn, timestamp, comments, asName] = columns(line) as [string, string, string, string, string, string];
      const words = comments.split(" ");
      const event = ctx.newEvent(report);
      addRequired(event, "source.ip", ip);
      if (asn !== "0") event.add("source.asn", asn);
      event.add("time.source", `${timestamp} GMT`);
      event.add("source.as_name", asName);
      event.add("raw", recover(line));
      const unsupported = (why: string) => new DecodingError(`report ${JSON.stringify(type)}: ${why}`, { object: line });
      if (type === "beagle") {
        event.add("classification.type", "infected-system");
        event.add("classification.identifier", "beagle");
        event.add("malware.name", "beagle");
        if (comments) throw unsupported("the meaning of its comment is not known");
      } else if (OLD_INFECTED.has(type)) {
        event.add("classification.type", "infected-system");
        event.add("classification.identifier", type);
        event.add("malware.name", type);
      } else if (type === "bots") {
        event.add("classification.type", "infected-system");
        parseOldBotComment(words, event, line);
      } else if (type === "bruteforce") {
        event.add("classification.type", "brute-force");
        event.add("classification.identifier", comments);
        event.add("protocol.application", comments);
      } else if (type === "ddosreport") {
        throw unsupported("its format is not known");
      } else if (type === "defacement") {
        // "<URL> <Zone-H id>"
        put(event, "classification.type", "unauthorised-information-modification");
        put(event, "classification.identifier", type);
        put(event, "source.url", words[0]);
        if (words.length < 2) throw unsupported("the comment lacks the Zone-H id");
        put(event, "extra.zoneh.id", words[1]);
      } else if (type === "fastflux") {
        put(event, "classification.type", "system-compromise");
        put(event, "classification.identifier", type);
        if (comments) put(event, "source.reverse_dns", comments);
      } else if (type === "malwareurl") {
        put(event, "source.url", words[0]);
        event.add("classification.type", "malware-distribution");
        event.add("classification.identifier", "malwareurl");
      } else if (type === "openresolvers") {
        put(event, "classification.type", "vulnerable-system");
        put(event, "classification.identifier", "dns-open-resolver");
        put(event, "protocol.application", "dns");
      } else if (type === "phishing") {
        put(event, "classification.type", "phishing");
        put(event, "classification.identifier", "phishing");
        put(event, "source.url", comments);
      } else if (type === "proxy") {
        // The comment is no port but a request like "HTTP CONNECT (8080)".
        put(event, "classification.type", "proxy");
        put(event, "classification.identifier", "openproxy");
        put(event, "extra.request", comments);
      } else if (type === "routers") {
        put(event, "classification.type", "system-compromise");
        if (comments) put(event, "classification.identifier", comments);
      } else if (type === "scanners") {
        put(event, "classification.type", "scanner");
        put(event, "classification.identifier", "scanner");
        if (!/^\s*[+-]?\d+\s*$/.test(comments)) throw unsupported("how several ports are written is not known");
        put(event, "source.port", Number.parseInt(comments, 10));
      } else if (type === "spam") {
        put(event, "classification.type", "spam");
        put(event, "classification.identifier", "spam");
        if (comments) throw unsupported("the meaning of its comment is not known");
      } else if (type === "spreaders") {
        // "<URL> [<MD5>]"
        event.add("source.url", words[0]);
        if (words.length === 2) event.add("malware.hash.md5", words[1]);
        event.add("classification.type", "malware-distribution");
        event.add("classification.identifier", "spreader");
      } else if (type === "stormworm") {
        // "confidence:<0-5> [legacy|crypto] [srcport <port>]": the confidence scales feed.accuracy.
        if (!event.has("feed.accuracy")) put(event, "feed.accuracy", 100);
        for (let i = 0; i < words.length; i++) {
          const word = words[i]!;
          if (word.startsWith("confidence:")) {
            const confidence = toInt(word.replace(/^[confide:]+/, ""), "confidence", line);
            put(event, "feed.accuracy", Number(event.get("feed.accuracy")) * (confidence / 5));
          } else if (word === "legacy" || word === "crypto") {
            put(event, "malware.version", word);
          } else if (word === "srcport") {
            put(event, "extra.source_port", toInt(words[i + 1] ?? "", "srcport", line));
            break;
          }
        }
      } else if (type === "toxbot") {
        event.add("classification.type", "infected-system");
        event.add("classification.identifier", type);
        event.add("malware.name", type);
        put(event, "extra.source_port", toInt(words[1] ?? "", "srcport", line));
      } else {
        throw new DecodingError(`Unknown report ${JSON.stringify(type)}.`, { object: line });
      }
      yield event;
    }

    function* parseNew(line: string, report: Report): Generator<Event> {
      const [category, ip, asn, timestamp, rawNotes, asInfo] = columns(line) as [string, string, string, string, string, string];
      const notes = rawNotes.replace(BOGUS_HOSTNAME_PORT, (_m, host: string, port: string) => `hostname: ${host}; port: ${port}`);
      const comments = notes.split(";").filter((c) => c !== "");
      // "<AS name>, <country code>": the name may contain ", " itself.
      const asParts = asInfo.split(", ");
      const event = ctx.newEvent(report);
      event.add("raw", recover(line));
      addRequired(event, "source.ip", ip);
      if (asn !== "0") event.add("source.asn", asn);
      event.add("time.source", `${timestamp} GMT`);
      event.add("source.as_name", asParts.slice(0, -1).join(", "));
      event.add("source.geolocation.cc", asParts[asParts.length - 1]);
      const fixed = Object.hasOwn(CATEGORIES, category) ? CATEGORIES[category]! : null;
      if (!fixed) throw new DecodingError(`Unknown category ${JSON.stringify(category)}.`, { object: line });
      for (const [key, value] of Object.entries(fixed)) event.add(key, value);
      const ports: string[] = [];
      for (let comment of comments) {
        if (!comment.includes(":") || comment.startsWith("http")) {
          // A bare value: its meaning depends on the category.
          if (category === "proxy") {
            comment = `proxy_type: ${comment}`;
          } else if (category === "bruteforce") {
            event.add("classification.identifier", comment);
            event.add("protocol.application", comment);
            break;
          } else if (category === "phishing") {
            event.add("source.url", comment);
            break;
          } else {
            // bot lines may still have the old "srcport <port> mwtype <type> ..." comment
            // (the line fails anyway if that does not work either, so a half-filled event does not matter)
            let ok = category === "bot";
            if (ok) {
              try { parseOldBotComment(notes.split(" "), event, line); } catch { ok = false; }
            }
            if (ok) break;
            throw new DecodingError(`Unable to parse comment ${JSON.stringify(comment)} of category ${JSON.stringify(category)}.`, { object: line });
          }
        }
        const colon = comment.indexOf(":");
        const key = comment.slice(0, colon).trim();
        const value = comment.slice(colon + 1).trim();
        switch (key) {
          case "family":
            put(event, "classification.identifier", value.toLowerCase());
            put(event, "malware.name", value.toLowerCase());
            break;
          case "dest_addr":
          case "destaddr":
            put(event, "destination.ip", value);
            break;
          case "dest_port":
          case "ports_scanned":
          case "honeypot_port":
          case "darknet_port":
          case "destination_port_numbers":
            for (const port of value.replace(TOTAL_COUNT, "").split(",")) ports.push(port.trim());
            break;
          case "protocol": {
            const name = Object.hasOwn(PROTOCOLS, value) ? PROTOCOLS[value] : undefined;
            if (name) event.add("protocol.transport", name);
            else if (toInt(value, "protocol", line) >= 143) event.add("extra.protocol.transport", Number.parseInt(value, 10));
            else throw new DecodingError(`Unknown protocol ${JSON.stringify(value)}.`, { object: line });
            break;
          }
          case "hostname":
            // The address itself given as host name is no FQDN and says nothing new.
            if (!event.isValid("source.fqdn", value, false) && value === ip) break;
            put(event, "source.fqdn", value);
            break;
          case "proxy_type":
            // "<protocol>-<port>" or just "<protocol>"
            if (value.includes("-")) {
              const parts = value.split("-");
              if (parts.length !== 2) throw new DecodingError(`proxy_type ${JSON.stringify(value)} is not "<protocol>-<port>"`, { object: line });
              put(event, "protocol.application", parts[0]);
              put(event, "source.port", parts[1]);
            } else {
              put(event, "protocol.application", value);
            }
            break;
          case "port":
          case "srcport":
            put(event, "source.port", value);
            break;
          case "username":
            put(event, "source.account", value);
            break;
          case "additional_asns":
            put(event, "extra.source.asns", [event.getItem("source.asn"), ...value.split(",").map((a) => toInt(a, "additional ASN", line))]);
            break;
          default:
            throw new DecodingError(`Unknown key ${JSON.stringify(key)} in comment of category ${JSON.stringify(category)}.`, { object: line });
        }
      }
      // One event per destination port.
      for (const port of ports) {
        const copy = event.copy();
        put(copy, "destination.port", port);
        yield copy;
      }
      if (!ports.length) yield event;
    }

    return {
      *parse(report: Report) {
        header = [];
        format = null;
        const raw = report.get("raw");
        const text = typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
        for (const l of text.split(/\r\n|\r|\n/)) {
          const line = l.trim();
          if (line.startsWith("#")) {
            header.push(line);
            if (line.includes("generated on")) format = "new";
            else if (line.includes("Data file written at")) format = "old";
            yield skipLine(line, "comment");
          } else {
            yield line;
          }
        }
      },
      parseLine(item, report) {
        const line = String(item);
        if (format === "new") return [...parseNew(line, report)];
        if (format === "old") return [...parseOld(line, report)];
        throw new DecodingError("the header names no known format (\"#generated on\" or \"# Data file written at\")", { object: line });
      },
      recoverLine(item) {
        return recover(String(item));
      },
    };
  },
});
