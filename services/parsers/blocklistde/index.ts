// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Blocklist.de parser: one IP address per line; which list it is (and so the classification,
 * protocol and description) comes from the file name of feed.url (IntelMQ's
 * intelmq.bots.parsers.blocklistde.parser).
 */
import { z } from "zod";
import { LineError, addRequired, defineParser, parserParams, urlsplit } from "../../../shared/sdk/index.js";

export const params = z.object({ ...parserParams }).strict();

const attacks = (service: string) => `IP reported as having run attacks on the service ${service}`;

/** Per list file: the fields every event of it gets. A file not listed is a blacklist. */
export const LISTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "all.txt": { "classification.type": "blacklist" },
  "ssh.txt": { "classification.type": "ids-alert", "protocol.application": "ssh", "event_description.text": attacks("SSH") },
  "mail.txt": { "classification.type": "ids-alert", "protocol.application": "smtp", "event_description.text": attacks("Mail, Postfix") },
  "apache.txt": {
    "classification.type": "ids-alert", "protocol.application": "http", "event_description.text": attacks("Apache, Apache-DDoS, RFI-Attacks"),
  },
  "imap.txt": { "classification.type": "ids-alert", "protocol.application": "imap", "event_description.text": attacks("IMAP, SASL, POP3") },
  "ftp.txt": { "classification.type": "ids-alert", "protocol.application": "ftp", "event_description.text": attacks("FTP") },
  "sip.txt": { "classification.type": "ids-alert", "protocol.application": "sip", "event_description.text": attacks("SIP, VOIP, Asterisk") },
  "bots.txt": { "classification.type": "spam", "event_description.text": "IP reported as having spammed on IRC, open forums, wikis or registration forms." },
  "strongips.txt": { "classification.type": "blacklist", "event_description.text": "IP reported as having run attacks in last 2 months" },
  "ircbot.txt": { "classification.type": "infected-system", "protocol.application": "irc" },
  "bruteforcelogin.txt": {
    "classification.type": "brute-force",
    "event_description.text": "IP reported as having run attacks on Joomlas, Wordpress and other Web-Logins with Brute-Force Logins",
  },
};

/** The last segment of the URL's path ("" when the path ends with "/"), as posixpath.basename. */
function fileName(url: string): string {
  const path = urlsplit(url)?.path ?? "";
  return path.slice(path.lastIndexOf("/") + 1);
}

export default defineParser({
  name: "blocklistde",
  intelmq: "intelmq.bots.parsers.blocklistde.parser",
  description: "Parses the Blocklist.de lists: one IP address per line, the list's kind from the file name in feed.url",
  params,
  create: (_prm, ctx) => ({
    parseLine(line, report) {
      const url = report.get("feed.url");
      if (typeof url !== "string") throw new LineError("the report has no feed.url, which names the list");
      const event = ctx.newEvent(report);
      addRequired(event, "source.ip", line);
      const fields = LISTS[fileName(url)] ?? { "classification.type": "blacklist" };
      for (const [k, v] of Object.entries(fields)) event.add(k, v);
      event.add("raw", line);
      return event;
    },
  }),
});
