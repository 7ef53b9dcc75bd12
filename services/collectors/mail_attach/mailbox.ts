// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What IntelMQ's three mail collectors share (its mail/_lib.py): the IMAP parameters, the search
 * for unread mails of a folder (sender and recipient filters), the subject filter, and marking the
 * mails that gave reports as seen. Unlike IntelMQ, which flags each mail right after handing its
 * reports to the queue, the flags are set in commit(): only once the broker confirmed every report
 * of the round. A failed round leaves its mails unread, to be read again.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import PostalMime, { type Email } from "postal-mime";
import { z } from "zod";
import { textBodies, type Bodies } from "./mime.js";
import { collectorParams, p, pyRegex, errorMessage, type BotContext, type CollectorImpl, type Report } from "../../../shared/sdk/index.js";

/** Parameters of every mail collector, with IntelMQ's names and defaults. */
export const mailParams = {
  ...collectorParams,
  mail_host: z.string().default("<host>").describe("IMAP server"),
  mail_port: p.int().pipe(z.number().int().min(1).max(65535)).nullable().default(null)
    .describe("IMAP port; null: 993 with mail_ssl, else 143"),
  mail_user: z.string().default("<user>").describe("IMAP user name"),
  mail_password: p.secret(z.string().default("<password>")).describe("IMAP password"),
  mail_ssl: p.bool().default(true).describe("Connect with TLS from the start (IMAPS)"),
  mail_starttls: p.bool().default(false).describe("Without mail_ssl: upgrade the connection with STARTTLS (required then)"),
  http_verify_cert: z.union([p.bool(), z.string()]).default(true)
    .describe("Verify TLS certificates (IntelMQ's name; the IMAP server's too); or a path to a CA bundle"),
  ssl_ca_certificate: z.string().nullable().default(null).describe("CA bundle (PEM file) to verify the IMAP server with"),
  folder: z.string().default("INBOX").describe("Mailbox folder to read unread mails from"),
  sent_from: z.string().nullable().default(null).describe("Only mails whose From contains this (IMAP SEARCH FROM)"),
  sent_to: z.string().nullable().default(null).describe("Only mails whose To contains this (IMAP SEARCH TO)"),
  subject_regex: z.string().nullable().default("<subject>").describe("Only mails whose subject matches this regular expression (search); empty: all"),
};

export interface MailParams {
  mail_host: string; mail_port: number | null; mail_user: string; mail_password: string;
  mail_ssl: boolean; mail_starttls: boolean; http_verify_cert: boolean | string; ssl_ca_certificate: string | null;
  folder: string; sent_from: string | null; sent_to: string | null; subject_regex: string | null;
}

/** IntelMQ's mail collectors read their mailbox every minute. */
export const MAIL_RATE_LIMIT = 60;

/** One unread mail, parsed. */
export interface Mail {
  uid: number;
  /** Decoded Subject. */
  subject: string;
  /** Addresses of From. */
  from: string[];
  /** Message-ID as written (with its angle brackets). */
  messageId: string;
  /** The Date header as written. */
  date: string;
  /** The inline text/plain and text/html parts, each decoded. */
  bodies: Bodies;
  parsed: Email;
}

/**
 * Turns one mail into reports; returns whether the mail is to be marked seen (it was relevant to
 * this collector, so that other collectors watching the mailbox still see the others unread).
 */
export type MailProcessor = (mail: Mail) => AsyncGenerator<Report, boolean>;

/** The extra.email_* fields IntelMQ's mail collectors give every report. */
export function addMailFields(report: Report, mail: Mail): void {
  const set = (key: string, value: string) => { if (value !== "") report.add(key, value, { overwrite: true }); };
  set("extra.email_subject", mail.subject);
  set("extra.email_from", mail.from.join(","));
  set("extra.email_message_id", mail.messageId);
  set("extra.email_date", mail.date);
}

export async function parseMail(uid: number, source: Buffer): Promise<Mail> {
  const parsed = await PostalMime.parse(source);
  const header = (k: string) => parsed.headers.find((h) => h.key === k)?.value.trim() ?? "";
  const from: string[] = [];
  const f = parsed.from;
  if (f) {
    if ("group" in f && Array.isArray(f.group)) for (const m of f.group) from.push(m.address);
    else if (f.address) from.push(f.address);
  }
  return { uid, subject: parsed.subject ?? "", from, messageId: parsed.messageId ?? header("message-id"), date: header("date"), bodies: textBodies(source), parsed };
}

/** imapflow's options for the parameters. */
export function imapOptions(prm: MailParams): ImapFlowOptions {
  const verify = prm.http_verify_cert !== false;
  const tls: { rejectUnauthorized: boolean; ca?: Buffer } = { rejectUnauthorized: verify };
  const caFile = typeof prm.http_verify_cert === "string" ? prm.http_verify_cert : prm.ssl_ca_certificate;
  if (verify && caFile) tls.ca = readFileSync(caFile);
  return {
    host: prm.mail_host,
    port: prm.mail_port ?? (prm.mail_ssl ? 993 : 143),
    secure: prm.mail_ssl,
    // IntelMQ (imaplib) talks plain IMAP unless told to upgrade: no opportunistic STARTTLS
    doSTARTTLS: prm.mail_ssl ? undefined : prm.mail_starttls,
    tls,
    auth: { user: prm.mail_user, pass: prm.mail_password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
  };
}

/** Mails whose reports were all queued (by bot, mailbox, folder, UIDVALIDITY and UID), kept a week. */
const BUCKET = "mail-collector-queued";
const QUEUED_TTL = 7 * 86400;

/** A mail being turned into reports: remembered in the bucket once all of them are queued. */
interface Track { key: string; open: number; done: boolean; failed: boolean }

/** A mail collector: unread mails of the folder, filtered, through `handle`; seen flags in commit(). */
export function mailCollector(prm: MailParams, ctx: BotContext, handle: MailProcessor): CollectorImpl {
  const subjectRe = prm.subject_regex ? pyRegex(prm.subject_regex) : null;
  /** The mails of the last round to mark seen once its reports are confirmed. */
  let pending: { uidValidity: string; uids: number[] } | null = null;
  let kv: Awaited<ReturnType<BotContext["cache"]>> | null = null;
  const owner = new WeakMap<Report, Track>();
  const puts: Promise<void>[] = [];
  // A mail whose reports were all stored, in a round that failed later, is not sent again by the
  // next round (only marked seen): remembered as soon as its last report is queued.
  const settleTrack = (t: Track): void => {
    if (!t.done || t.open > 0 || t.failed || !kv) return;
    puts.push(kv.put(t.key, "1").catch((err: unknown) => ctx.log.warn(`Could not remember a queued mail: ${errorMessage(err)}`)));
  };

  async function open(): Promise<ImapFlow> {
    ctx.log.debug(`Connecting to ${prm.mail_host}.`);
    const client = new ImapFlow(imapOptions(prm));
    // a dropped connection is also reported by the command in progress; without a listener the event would crash
    client.on("error", (err: unknown) => ctx.log.debug(`IMAP connection error: ${errorMessage(err)}`));
    await client.connect();
    try {
      await client.mailboxOpen(prm.folder);
    } catch (err) {
      await close(client);
      throw err;
    }
    return client;
  }

  async function close(client: ImapFlow): Promise<void> {
    try {
      await client.logout();
    } catch {
      client.close();
    }
  }

  return {
    async *collect(): AsyncGenerator<Report> {
      pending = null;
      kv ??= await ctx.cache(BUCKET, QUEUED_TTL);
      const client = await open();
      try {
        const uidValidity = String(client.mailbox ? client.mailbox.uidValidity : "");
        const query: { seen: false; from?: string; to?: string } = { seen: false };
        if (prm.sent_from) query.from = prm.sent_from;
        if (prm.sent_to) query.to = prm.sent_to;
        const uids = (await client.search(query, { uid: true })) || [];
        if (uids.length === 0) ctx.log.debug("No unread mails to check.");
        const relevant: number[] = [];
        for (const uid of uids) {
          const key = createHash("sha256").update([ctx.botId, prm.mail_host, prm.mail_user, prm.folder, uidValidity, uid].join("\0")).digest("hex");
          if ((await kv.get(key).catch(() => null)) !== null) {
            ctx.log.debug(`Mail ${uid} was queued in an earlier round; marking it seen.`);
            relevant.push(uid);
            continue;
          }
          // BODY.PEEK: reading a mail does not set its Seen flag
          const msg = await client.fetchOne(String(uid), { source: true }, { uid: true });
          if (!msg || !msg.source) continue; // expunged meanwhile
          const mail = await parseMail(uid, msg.source);
          if (subjectRe && !subjectRe.test(mail.subject.replace(/\r\n\s/g, " "))) {
            ctx.log.debug(`Message with date ${mail.date} skipped because subject ${JSON.stringify(mail.subject)} does not match.`);
            continue;
          }
          const track: Track = { key, open: 0, done: false, failed: false };
          const reports = handle(mail);
          let next = await reports.next();
          while (!next.done) {
            track.open++;
            owner.set(next.value, track);
            yield next.value;
            next = await reports.next();
          }
          track.done = true;
          if (next.value) {
            relevant.push(uid);
            settleTrack(track);
          }
        }
        pending = { uidValidity, uids: relevant };
      } finally {
        await close(client);
      }
    },

    queued(report: Report): void {
      const t = owner.get(report);
      if (!t) return;
      t.open--;
      settleTrack(t);
    },

    failed(report: Report): void {
      const t = owner.get(report);
      if (t) t.failed = true;
    },

    async commit(): Promise<void> {
      await Promise.all(puts.splice(0));
      const done = pending;
      pending = null;
      if (!done || done.uids.length === 0) return;
      const client = await open();
      try {
        const validity = String(client.mailbox ? client.mailbox.uidValidity : "");
        if (validity !== done.uidValidity) {
          // the folder was recreated: these UIDs may name other mails now
          ctx.log.warn(`The UIDs of folder ${prm.folder} changed (UIDVALIDITY ${done.uidValidity} -> ${validity}); ${done.uids.length} mail(s) were not marked seen and will be read again.`);
          return;
        }
        await client.messageFlagsAdd(done.uids.join(","), ["\\Seen"], { uid: true });
        ctx.log.debug(`Marked ${done.uids.length} mail(s) seen.`);
      } finally {
        await close(client);
      }
    },
  };
}
