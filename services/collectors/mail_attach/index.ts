// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Mail attachment collector: the attachments of unread mails whose names match attach_regex,
 * unpacked (zip, tar, gzip) with extract_files, each file a report (IntelMQ's
 * intelmq.bots.collectors.mail.collector_mail_attach).
 */
import { z } from "zod";
import { defineBot, p, pyRegex, InvalidArgument, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";
import { SizeLimitError, unzip, type Extracted } from "../http/archive.js";
import { MAIL_RATE_LIMIT, addMailFields, mailCollector, mailParams, type Mail } from "./mailbox.js";

/** Largest content an attachment may unpack to (against decompression bombs). */
export const MAX_EXTRACTED = 256 * 1024 * 1024;

export const params = z.object({
  ...mailParams,
  attach_regex: z.string().nullable().default("csv.zip").describe("Attachments whose file name matches this regular expression (search) become reports"),
  extract_files: z.union([z.null(), p.bool(), p.list()]).default(true).transform((v) => v ?? false)
    .describe("Unpack matching attachments (zip, tar, tar.gz, gzip): true for all files, or a list of file names; false: send the attachment as it is"),
  attach_unzip: p.bool().nullable().default(null).describe("Deprecated (IntelMQ): any value sets extract_files to true"),
}).strict();

export type Params = z.infer<typeof params>;

function create(prm: Params, ctx: BotContext): CollectorImpl {
  if (prm.attach_regex === null) throw new InvalidArgument("attach_regex", null, "string");
  let extract = prm.extract_files;
  if (prm.attach_unzip !== null) {
    extract = true;
    ctx.log.warn("The parameter 'attach_unzip' is deprecated and will be removed in version 4.0. Use 'extract_files' instead.");
  }
  const attachRe = pyRegex(prm.attach_regex);

  async function* attachments(mail: Mail): AsyncGenerator<Report, boolean> {
    let seen = false;
    for (const att of mail.parsed.attachments) {
      let name = att.filename;
      if (!name) {
        ctx.log.debug("Skipping attachment because of missing filename.");
        continue;
      }
      if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1);
      if (!attachRe.test(name)) continue;
      ctx.log.debug(`Found suitable attachment ${name}.`);
      const content = typeof att.content === "string" ? Buffer.from(att.content, "utf8") : Buffer.from(att.content as ArrayBuffer);
      let files: Extracted[];
      if (extract === false) files = [{ name, data: content }];
      else {
        try {
          files = unzip(content, extract, { maxOutput: MAX_EXTRACTED });
        } catch (err) {
          if (err instanceof SizeLimitError) throw err;
          // IntelMQ fails the round here, again every round; we send what is not an archive as it is
          ctx.log.info(`Attachment ${name} is no zip, tar or gzip archive; sending it as it is.`);
          files = [{ name, data: content }];
        }
      }
      for (const file of files) {
        if (file.data.length === 0) continue;
        const report = ctx.newReport();
        report.add("raw", file.data.toString("base64"), { sanitize: false });
        if (file.name) report.add("extra.file_name", file.name);
        addMailFields(report, mail);
        yield report;
      }
      // relevant to this collector: marked seen (others watching the mailbox still see the rest unread)
      seen = true;
    }
    ctx.log.info("Email report read.");
    return seen;
  }

  return mailCollector(prm, ctx, attachments);
}

export default defineBot({
  kind: "collector",
  name: "mail_attach",
  intelmq: "intelmq.bots.collectors.mail.collector_mail_attach",
  description: "Reads attachments of unread mails from an IMAP folder into reports (zip, tar and gzip unpacked); marks them seen once queued",
  params,
  runtimeDefaults: { rate_limit: MAIL_RATE_LIMIT },
  create,
});
