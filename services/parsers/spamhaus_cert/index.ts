// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Spamhaus CERT parser: the CSV-like portal feed of Spamhaus for CERTs, one infected or abusing
 * host per line, classified by its bot name (IntelMQ's intelmq.bots.parsers.spamhaus.parser_cert).
 */
import { z } from "zod";
import { DecodingError, fromTimestamp, type Event, type Report, addRequired, defaultLines, defineParser, parserParams, skipLine } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

/** ip, asn, country, lastseen, botname, domain, remote_ip, remote_port, local_port, protocol */
const COLUMNS = 10;

const IOT_SCAN_TEXT = "The possibly infected IoT device scanned for other vulnerable IoT devices.";

/** Python's int() of a decimal text, or null. */
const toInt = (s: string): number | null => (/^\s*[+-]?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : null);

/**
 * Classify the line by its bot name (lower case); returns the name as it is used further on
 * (IntelMQ renames "auto" and drops the "iot" prefix of some scanners).
 */
function classify(event: Event, botname: string, row: readonly string[]): string {
  const set = (type: string, identifier?: string, application?: string, text?: string) => {
    event.add("classification.type", type);
    if (identifier !== undefined) event.add("classification.identifier", identifier);
    if (application !== undefined) event.add("protocol.application", application);
    if (text !== undefined) event.add("event_description.text", text);
  };
  switch (botname) {
    case "openrelay": set("vulnerable-system", "openrelay", "smtp"); break;
    case "sshauth": set("brute-force", "ssh", "ssh"); break;
    case "telnetauth": set("brute-force", "telnet", "telnet"); break;
    case "smtpauth": set("brute-force", "smtp", "smtp"); break;
    case "iotscan":
    case "iotuser":
      // Scans of the telnet ports are telnet scans, any other port a generic one.
      if (row[7] === "23" || row[7] === "2323") set("scanner", "telnet", "telnet", IOT_SCAN_TEXT);
      else set("scanner", "scanner-generic", undefined, IOT_SCAN_TEXT);
      break;
    case "wpscanner": set("scanner", "wordpress-vulnerabilities", "http", "scanning for wordpress vulnerabilities"); break;
    case "w_wplogin": set("scanner", "wordpress-login", "http", "scanning for wordpress login pages"); break;
    case "l_spamlink": {
      set("spam", "spamlink", undefined, "The URL appeared in a spam email sent by extra.spam_ip.");
      // local_port holds "<spam ip>:<malware version>:<malware name>" here
      const parts = row[8]!.split(":");
      if (parts.length !== 3) throw new DecodingError(`l_spamlink needs "ip:version:name" in the local_port column, got ${JSON.stringify(row[8])}`, { object: row.join(",") });
      event.add("malware.name", parts[2]);
      event.add("malware.version", parts[1]);
      event.add("source.url", row[6]);
      event.add("extra.spam_ip", parts[0]);
      break;
    }
    case "pop":
    case "imap": set("brute-force", botname, botname); break;
    case "smb":
    case "rdp":
    case "iotrdp":
    case "iotmicrosoftds": {
      const name = botname.startsWith("iot") ? botname.slice(3) : botname;
      set("scanner", name, name);
      return name;
    }
    case "proxyget": set("other", "proxyget", undefined, "The malicious client used a honeypot as proxy."); break;
    case "iotlogin": set("system-compromise", "iot", undefined, "The infected iot device logged in to a honeypot."); break;
    case "iotcmd": set("system-compromise", "iot", undefined, "The infected iot device logged in to a honeypot and issued malicious commands."); break;
    case "iotmirai":
      set("infected-system", "mirai");
      event.add("malware.name", "mirai");
      break;
    case "ioturl": set("c2-server", "malware-generic"); break;
    case "automatedtest": set("brute-force", "lookup-captcha", undefined, "The device automatically brute-forced the Spamhaus CBL lookup."); break;
    case "authspoofbadehlo": set("brute-force", "authentication-spoof", "smtp", "The device spoofed SMTP authentication with a bad EHLO."); break;
    case "extortion":
      set("spam", "extortion", row[7] === "25" ? "smtp" : undefined, "This device sent extortion mails.");
      break;
    case "misc":
      // A spamming botnet whose malware is not known (abuseat.org documents these).
      set("spam", "spam", row[7] === "25" ? "smtp" : undefined, "This device is sending spam as part of a botnet. See abuseat.org for more details.");
      event.add("event_description.url", "https://www.abuseat.org/lookup.cgi");
      event.add("feed.documentation", "https://www.abuseat.org/lookup.cgi", { overwrite: false });
      break;
    default: {
      // Any other name is the name of the bot's malware ("auto": not known).
      const name = botname === "auto" ? "s_other" : botname;
      event.add("malware.name", name);
      event.add("classification.type", "infected-system");
      event.add("source.url", row[5], { raiseFailure: false });
      return name;
    }
  }
  return botname;
}

export default defineParser({
  name: "spamhaus_cert",
  intelmq: "intelmq.bots.parsers.spamhaus.parser_cert",
  description: "Parses the Spamhaus CERT portal feed of infected and abusing hosts",
  params,
  create: (_prm, ctx) => {
    // Comment lines ("; ...") are kept: every event's raw is its line after them, as in IntelMQ.
    let header: string[] = [];
    const recover = (line: string) => [...header, line].join("\n");
    return {
      *parse(report: Report) {
        header = [];
        yield* defaultLines(report);
      },
      parseLine(item, report) {
        const line = String(item);
        if (line.startsWith(";")) {
          header.push(line);
          return skipLine(line, "comment");
        }
        const row = line.split(",").map((f) => f.trim());
        if (row.length < COLUMNS) throw new DecodingError(`line has ${row.length} fields, the feed has ${COLUMNS}`, { object: line });
        const event = ctx.newEvent(report);
        // The URL carries the API key: only the part before it is kept.
        event.change("feed.url", String(event.getItem("feed.url")).split("key=")[0]);
        addRequired(event, "source.ip", row[0]);
        const asn = row[1]!.replace(/AS/g, "");
        if (asn !== "?") event.add("source.asn", asn);
        event.add("source.geolocation.cc", row[2]);
        const seen = toInt(row[3]!);
        if (seen === null) throw new DecodingError(`lastseen ${JSON.stringify(row[3])} is no timestamp`, { object: line });
        event.add("time.source", fromTimestamp(seen));
        const botname = classify(event, row[4]!.toLowerCase(), row);
        // The provider says the domain column of iotscan lines is wrong, and an IP or port in it is too.
        if (!(botname === "iotscan" || row[5]!.includes(":"))) event.add("destination.fqdn", row[5], { raiseFailure: false });
        event.add("destination.ip", row[6], { raiseFailure: false });
        event.add("destination.port", row[7], { raiseFailure: false });
        if (row[8] && row[8] !== "-" && row[8] !== "?" && botname !== "l_spamlink") {
          const port = toInt(row[8]);
          if (port === null) throw new DecodingError(`local_port ${JSON.stringify(row[8])} is no number`, { object: line });
          event.add("extra.source.local_port", port);
        }
        event.add("protocol.transport", row[9], { raiseFailure: false });
        event.add("raw", recover(line));
        return event;
      },
      recoverLine(item) {
        return recover(String(item));
      },
    };
  },
});
