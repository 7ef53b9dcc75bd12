// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Mail body collector: the plain-text and/or HTML body of unread mails, each a report (IntelMQ's
 * intelmq.bots.collectors.mail.collector_mail_body).
 */
import { z } from "zod";
import { defineBot, p, InvalidArgument, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { MAIL_RATE_LIMIT, addMailFields, mailCollector, mailParams, type Mail } from "../mail_attach/mailbox.js";

const TYPES = ["plain", "html"] as const;
type BodyType = (typeof TYPES)[number];

export const params = z.object({
  ...mailParams,
  content_types: z.union([p.bool(), z.string(), z.array(z.string())]).nullable().default(["plain", "html"])
    .describe("Bodies to send, in this order: plain, html (a list or a comma-separated string); empty, null, true or false: both"),
}).strict();

export type Params = z.infer<typeof params>;

/** IntelMQ's reading of content_types. */
export function contentTypes(v: Params["content_types"]): BodyType[] {
  let list: string[];
  if (typeof v === "string" && v.trim() !== "") list = v.split(",").map((x) => x.trim());
  else if (Array.isArray(v) && v.length > 0) list = v;
  else return [...TYPES];
  for (const t of list) {
    if (!(TYPES as readonly string[]).includes(t)) throw new InvalidArgument("content_types", v, "plain and/or html");
  }
  return list as BodyType[];
}

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const types = contentTypes(prm.content_types);

  async function* bodies(mail: Mail): AsyncGenerator<Report, boolean> {
    let seen = false;
    for (const type of types) {
      for (const body of mail.bodies[type]) {
        if (!body) continue;
        const report = ctx.newReport();
        report.add("raw", body);
        addMailFields(report, mail);
        yield report;
        // at least one body was sent: the mail is marked seen
        seen = true;
      }
    }
    return seen;
  }

  return mailCollector(prm, ctx, bodies);
}

export default defineBot({
  kind: "collector",
  name: "mail_body",
  intelmq: "intelmq.bots.collectors.mail.collector_mail_body",
  description: "Reads the plain-text and HTML bodies of unread mails from an IMAP folder into reports; marks them seen once queued",
  params,
  runtimeDefaults: { rate_limit: MAIL_RATE_LIMIT },
  create,
});
