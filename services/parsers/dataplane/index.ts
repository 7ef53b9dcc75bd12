// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Dataplane parser: the pipe-separated feeds of dataplane.org (SSH, SIP, DNS, SMTP, telnet, VNC
 * and protocol 41 sightings), one event per line (IntelMQ's intelmq.bots.parsers.dataplane.parser).
 */
import { z } from "zod";
import { DecodingError, commentHeader, defineParser, excerpt, LineError, parserParams } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

interface Category { type: string; application: string; description: string }

// The feed's own text (first sentence) with the suspicion note its report headers give.
const SUSPICIOUS = "The source report lists hosts that are suspicious of more than just port scanning.";
const cat = (type: string, application: string, ...sentences: string[]): Category =>
  ({ type, application, description: sentences.join(" ") });

/** Per feed (the last column of each line): classification, protocol and description. */
export const CATEGORIES: Readonly<Record<string, Category>> = {
  dnsrd: cat("scanner", "dns", "Address has been seen performing a DNS recursion desired query to a remote host.", SUSPICIOUS,
    "The host may be DNS server cataloging or searching for hosts to use for DNS-based DDoS amplification."),
  dnsrdany: cat("scanner", "dns", "Address has been seen performing a DNS recursion desired IN ANY query to a remote host.", SUSPICIOUS,
    "The host may be DNS server cataloging or searching for hosts to use for DNS-based DDoS amplification."),
  dnsversion: cat("scanner", "dns", "Address has been seen initiating a DNS CH TXT version.bind operation to a remote host.", SUSPICIOUS,
    "The host may be DNS server cataloging or searching for vulnerable DNS servers."),
  proto41: cat("proxy", "6to4", "Address has been detected to offer open IPv6 over IPv4 tunneling.",
    "This could allow for the host to be used a public proxy against IPv6 hosts."),
  sipquery: cat("brute-force", "sip", "Address has been seen initiating a SIP OPTIONS query to a remote host.", SUSPICIOUS,
    "The host may be SIP server cataloging or conducting various forms of telephony abuse."),
  sipinvitation: cat("brute-force", "sip", "Address has been seen initiating a SIP INVITE operation to a remote host.", SUSPICIOUS,
    "The host may be SIP client cataloging or conducting various forms of telephony abuse."),
  sipregistration: cat("brute-force", "sip", "Address has been seen initiating a SIP REGISTER operation to a remote host.", SUSPICIOUS,
    "The host may be SIP client cataloging or conducting various forms of telephony abuse."),
  smtpdata: cat("scanner", "smtp", "Address has been seen initiating a SMTP DATA operation to a remote host.", SUSPICIOUS,
    "The host may be SMTP server cataloging or conducting various forms of email abuse."),
  smtpgreet: cat("scanner", "smtp", "Address has been seen initiating a SMTP HELO/EHLO operation to a remote host.", SUSPICIOUS,
    "The host may be SMTP server cataloging or conducting various forms of email abuse."),
  sshclient: cat("scanner", "ssh", "Address has been seen initiating an SSH connection to a remote host.", SUSPICIOUS,
    "The host may be SSH server cataloging or conducting authentication attack attempts."),
  sshpwauth: cat("brute-force", "ssh", "Address has been seen attempting to remotely login to a host using SSH password authentication.",
    "The source report lists hosts that are highly suspicious and are likely conducting malicious SSH password authentication attacks."),
  telnetlogin: cat("brute-force", "telnet", "Address has been seen initiating a telnet connection to a remote host.", SUSPICIOUS,
    "The host may be telnet server cataloging or conducting authentication attack attempts."),
  vncrfb: cat("scanner", "vnc", "Address has been seen initiating a VNC remote buffer session to a remote host.", SUSPICIOUS,
    "The host may be VNC/RFB server cataloging or conducting authentication attack attempts."),
};

/** "2021-08-28 05:00:18" (UTC, as the feeds say) in ISO form. */
const utc = (s: string) => s.replace(" ", "T") + "+00:00";
const orNull = (s: string) => (s === "NA" ? null : s);

type Column = [field: string, convert: (s: string) => string | null];

const ASN: Column = ["source.asn", orNull];
// The AS name column holds the name followed by the holder's description: only the name is kept.
const AS_NAME: Column = ["source.as_name", (s) => {
  if (s === "NA") return null;
  // IntelMQ fails such a line too (it takes the first word of an empty column)
  if (s === "") throw new DecodingError("the AS name column is empty", { object: s });
  return s.split(/\s+/)[0]!;
}];
const IP: Column = ["source.ip", (s) => s];

/** The columns before the feed name; proto41 has a first-seen time before the last-seen one. */
const COLUMNS: Readonly<Record<string, readonly Column[]>> = {
  proto41: [ASN, AS_NAME, IP, ["extra.first_seen", utc], ["time.source", utc]],
};
const DEFAULT_COLUMNS: readonly Column[] = [ASN, AS_NAME, IP, ["time.source", utc]];

// The feed header promises a pipe with at least two spaces on both sides between fields, so a
// single pipe inside an AS description does not split it.
const SEPARATOR = "  |  ";

export default defineParser({
  name: "dataplane",
  intelmq: "intelmq.bots.parsers.dataplane.parser",
  description: "Parses the dataplane.org feeds (SSH, SIP, DNS, SMTP, telnet, VNC, protocol 41)",
  params,
  create: (_prm, ctx) => {
    // Comment lines are kept to rebuild failed lines as IntelMQ does.
    return commentHeader((line, report) => {
      const fields = line.split(SEPARATOR);
      const feed = fields[fields.length - 1]!.trim();
      const columns = COLUMNS[feed] ?? DEFAULT_COLUMNS;
      if (fields.length !== columns.length + 1) {
        throw new DecodingError(`line has ${fields.length} fields, the ${JSON.stringify(feed)} format has ${columns.length + 1}`
          + ` (feed.url ${String(report.get("feed.url") ?? "unknown")})`, { object: line });
      }
      const category = CATEGORIES[feed];
      if (!category) throw new DecodingError(`unknown Dataplane feed ${JSON.stringify(feed)} in the last column`, { object: line });
      const event = ctx.newEvent(report);
      event.add("classification.type", category.type);
      event.add("protocol.application", category.application);
      event.add("event_description.text", category.description);
      columns.forEach(([field, convert], i) => {
        const value = convert(fields[i]!.trim());
        if (value !== null) event.add(field, value);
      });
      if (!event.has("source.ip")) throw new LineError(`no address in the ipaddr column: ${excerpt(line)}`);
      event.add("raw", line);
      return event;
    });
  },
});
