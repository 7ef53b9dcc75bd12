// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Templated SMTP output (IntelMQ's intelmq.bots.outputs.templated_smtp.output): a mail per event
 * whose subject, sender, recipients, body and attachments are Jinja templates over `event`,
 * rendered by nunjucks (Jinja's syntax: `{{ event['source.url'] }}`, `{%- for key in event %}`,
 * `joiner()`, and IntelMQ's `from_json()`). Sent at flush(), acknowledged after every 250, each
 * mail of an input once across redeliveries (services/outputs/smtp/mailer.ts).
 */
import nunjucks from "nunjucks";
import { z } from "zod";
import { ConfigurationError, defineBot, p, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";
import { OnceSender, smtpTransport, type MailMessage } from "../smtp/mailer.js";

const DEFAULT_BODY = `{%- for field in event %}
    {%- if field != 'raw' %}
{{ field }}: {{ event[field] }}
    {%- endif %}
{%- endfor %}
`;

export const params = z.object({
  smtp_host: z.string().default("localhost").describe("SMTP server"),
  smtp_port: p.int().default(25).describe("SMTP port"),
  ssl: p.bool().default(false).describe("SMTPS: TLS from the start (set smtp_port to 465)"),
  starttls: p.bool().default(false).describe("Require STARTTLS"),
  username: z.string().nullable().default(null).describe("User for SMTP authentication (needs password)"),
  password: p.secret(z.string().nullable().default(null)).describe("Password for SMTP authentication (needs username)"),
  verify_cert: p.bool().default(true).describe("Verify the server's certificate (STARTTLS and SMTPS)"),
  attachments: z.array(z.record(z.string(), z.string())).default([])
    .describe("Attachments: a list of {content-type, text, name}, each a template; one lacking a key is left out with an error"),
  mail_from: z.string().nullable().default(null).describe("Sender, a template (required)"),
  mail_to: z.string().nullable().default(null).describe("Recipients, comma-separated, a template (required)"),
  subject: z.string().default("IntelMQ event").describe("Subject, a template"),
  body: z.string().default(DEFAULT_BODY).describe("Body text, a template; the default lists every field but raw as `field: value`"),
}).strict();

export type Params = z.infer<typeof params>;

interface Rendered { (event: unknown): string }

/** Jinja's Template(): no autoescaping, one trailing newline of the source dropped, from_json available. */
function compile(env: nunjucks.Environment, source: string): Rendered {
  const t = nunjucks.compile(source.replace(/\n$/, ""), env);
  return (event) => t.render({ event });
}

/**
 * The event as Jinja sees a dict: iterating gives its keys (strings with Python's str methods,
 * used by IntelMQ's own templates: key.startswith('source.')), indexing its values, `in` its keys.
 */
function eventView(event: Event): unknown {
  const keys = [...event.keys()];
  const view: unknown[] = keys.map((k) => pyString(k));
  for (const k of keys) Object.defineProperty(view, k, { value: event.get(k), enumerable: false });
  Object.defineProperty(view, "indexOf", { value: (k: unknown) => keys.indexOf(String(k)), enumerable: false });
  return view;
}

function pyString(s: string): string {
  const o = new String(s) as unknown as Record<string, unknown>;
  o.startswith = (x: string) => s.startsWith(x);
  o.endswith = (x: string) => s.endsWith(x);
  o.split = (sep?: string) => (sep === undefined ? s.trim().split(/\s+/) : s.split(sep));
  o.lower = () => s.toLowerCase();
  o.upper = () => s.toUpperCase();
  o.strip = () => s.trim();
  o.replace = (a: string, b: string) => s.split(a).join(b);
  return o as unknown as string;
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  if (!prm.mail_from) throw new ConfigurationError("Mail", "No sender specified");
  if (!prm.mail_to) throw new ConfigurationError("Mail", "No recipient specified");
  if (prm.username && !prm.password) throw new ConfigurationError("Server", "SMTP username provided, but not password");
  if (prm.password && !prm.username) throw new ConfigurationError("Server", "SMTP password provided, but not username");
  const env = new nunjucks.Environment(null, { autoescape: false });
  env.addGlobal("from_json", (text: string) => JSON.parse(text) as unknown);
  const tpl = {
    subject: compile(env, prm.subject), from: compile(env, prm.mail_from), to: compile(env, prm.mail_to), body: compile(env, prm.body),
  };
  const attachments: { type: Rendered; text: Rendered; name: Rendered }[] = [];
  for (const att of prm.attachments) {
    const shown = `{${Object.entries(att).map(([k, v]) => `'${k}': '${v}'`).join(", ")}}`;
    const missing = ["content-type", "text", "name"].find((k) => !(k in att));
    if (missing) {
      ctx.log.error(`Attachment does not have a ${missing}, ignoring: ${shown}.`);
      continue;
    }
    attachments.push({ type: compile(env, att["content-type"]!), text: compile(env, att.text!), name: compile(env, att.name!) });
  }
  const transport = smtpTransport({
    host: prm.smtp_host, port: prm.smtp_port, ssl: prm.ssl, starttls: prm.starttls, username: prm.username, password: prm.password, verifyCert: prm.verify_cert,
  });
  // opened at the first flush: a broker that is away then is the flush's failure, waited out
  let sender: OnceSender | null = null;
  let pending: MailMessage[] = [];

  return {
    export(event: Event) {
      const view = eventView(event);
      const from = tpl.from(view);
      const to = tpl.to(view);
      const recipients = to.split(",").map((r) => r.trim());
      let text = tpl.body(view);
      // Python's EmailMessage ends a text part with a newline
      if (!text.endsWith("\n")) text += "\n";
      // with attachments the body is the first part of a multipart/mixed message, as IntelMQ's; alone, the whole message
      pending.push({
        from, to: recipients, subject: tpl.subject(view), text,
        attachments: attachments.map((a) => ({ contentType: a.type(view), content: Buffer.from(a.text(view), "utf8"), filename: a.name(view), contentDisposition: "attachment" as const })),
        envelope: { from, to: recipients },
      });
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
  name: "templated_smtp",
  intelmq: "intelmq.bots.outputs.templated_smtp.output",
  description: "Send each event as a mail whose subject, addresses, body and attachments are Jinja templates",
  params,
  create,
});
