// SPDX-License-Identifier: AGPL-3.0-only
/**
 * SMTP output (IntelMQ's intelmq.bots.outputs.smtp.output): one mail per event, its subject,
 * sender, recipients and text Python format strings over the event (`{ev[source.asn]}`; absent
 * fields are None), the chosen fields attached as a one-row CSV (events.csv, `;`-separated).
 * The mails of an input are sent at flush(); the input is acknowledged after the server took
 * every one of them (250), and a redelivered input does not send its mails again.
 */
import { z } from "zod";
import { defineBot, p, pyFormat, pyStr, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";
import { OnceSender, smtpTransport, type MailMessage } from "./mailer.js";

export const params = z.object({
  fieldnames: p.list().nullable().default(["classification.taxonomy", "classification.type", "classification.identifier", "source.ip", "source.asn", "source.port"])
    .describe("Fields of the CSV attachment (a list or comma-separated); empty or null: no attachment"),
  mail_from: z.string().default("cert@localhost").describe("Sender (From and envelope sender), a format string over the event `ev`"),
  mail_to: z.string().default("{ev[source.abuse_contact]}").describe("Recipients, comma-separated, a format string over the event `ev`"),
  smtp_host: z.string().default("localhost").describe("SMTP server"),
  smtp_port: p.int().default(25).describe("SMTP port"),
  smtp_username: z.string().nullable().default(null).describe("User for SMTP authentication (with smtp_password)"),
  smtp_password: p.secret(z.string().nullable().default(null)).describe("Password for SMTP authentication"),
  ssl: p.bool().default(false).describe("SMTPS: TLS from the start (set smtp_port to 465)"),
  starttls: p.bool().default(true).describe("Require STARTTLS"),
  subject: z.string().default("Incident in your AS {ev[source.asn]}").describe("Subject, a format string over the event `ev`"),
  text: z.string().nullable().default("Dear network owner,\\n\\nWe have been informed that the following device might have security problems.\\n\\nYour localhost CERT")
    .describe("Mail text, a format string over the event `ev`; null: none"),
  http_verify_cert: p.bool().default(true).describe("Verify the server's TLS certificate"),
}).strict();

export type Params = z.infer<typeof params>;

/** One row of Python's csv.DictWriter (QUOTE_MINIMAL): quoted when it holds the delimiter, a quote or a line break. */
export function csvLine(values: readonly string[], delimiter = ";"): string {
  return values.map((v) => (v.includes(delimiter) || /["\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(delimiter) + "\n";
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  const transport = smtpTransport({
    host: prm.smtp_host, port: prm.smtp_port, ssl: prm.ssl, starttls: prm.starttls,
    username: prm.smtp_username, password: prm.smtp_password, verifyCert: prm.http_verify_cert,
  });
  const fieldnames = prm.fieldnames?.length ? prm.fieldnames : null;
  // opened at the first flush: a broker that is away then is the flush's failure, waited out
  let sender: OnceSender | null = null;
  let pending: MailMessage[] = [];

  return {
    export(event: Event) {
      // IntelMQ's set_default_value(): an absent field is None in the format strings
      const ev = (key: string): unknown => (event.has(key) ? event.get(key) : null);
      const fmt = (template: string): string => pyFormat(template, { ev });
      const mail: MailMessage = {
        from: fmt(prm.mail_from),
        to: fmt(prm.mail_to),
        subject: fmt(prm.subject),
        // IntelMQ's envelope sender is mail_from as written; the recipients are the formatted To split at commas
        envelope: { from: prm.mail_from, to: fmt(prm.mail_to).split(",") },
      };
      if (prm.text !== null) mail.text = fmt(prm.text);
      if (fieldnames) {
        const row = fieldnames.map((k) => {
          const v = event.has(k) ? event.get(k) : null;
          return v === null || v === undefined ? "" : pyStr(v);
        });
        mail.attachments = [{ filename: "events.csv", contentType: "text/csv", content: csvLine(fieldnames) + csvLine(row) }];
      }
      pending.push(mail);
    },
    async flush(input: InputRef) {
      if (pending.length === 0) return;
      sender ??= await OnceSender.open(ctx);
      await sender.send(transport, input, pending);
      pending = [];
    },
    discard() {
      pending = [];
    },
    shutdown() {
      transport.close();
    },
  };
}

export default defineBot({
  kind: "output",
  name: "smtp",
  intelmq: "intelmq.bots.outputs.smtp.output",
  description: "Send each event as a mail with a CSV attachment, its subject, sender and recipients formatted from the event",
  params,
  create,
});
