// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What the mail outputs (smtp, templated_smtp, smtp_batch) share: an SMTP transport as IntelMQ's
 * parameters describe it (SMTPS, STARTTLS, authentication, certificate checks), the failures that
 * are the server's (it cannot be reached, it answers 4xx: wait for it) told from the message's
 * (5xx: the message fails), and sending an input's mails once: each mail accepted by the server
 * (its 250) is noted in a KV bucket under the input's key, so a redelivered input skips the mails
 * that went out before.
 */
import nodemailer from "nodemailer";
import type { Transporter } from "nodemailer";
import type Mail from "nodemailer/lib/mailer/index.js";
import { PeerUnavailableError, errorMessage, type BotContext, type InputRef } from "../../../shared/sdk/index.js";

export interface SmtpOptions {
  host: string;
  port: number;
  /** SMTPS: TLS from the start. */
  ssl: boolean;
  /** STARTTLS required; without, the connection stays in plain text (IntelMQ does not upgrade on its own). */
  starttls: boolean;
  username: string | null;
  password: string | null;
  verifyCert: boolean;
}

export type MailMessage = Mail.Options & { envelope: { from: string; to: string[] } };

/** The bucket of sent mails and how long a mail is remembered (a week: redeliveries come within minutes). */
export const SENT_BUCKET = "smtp-sent";
const SENT_TTL_SECONDS = 7 * 86_400;
/** Mails sent at a time (pooled connections). */
const PARALLEL = 4;

export function smtpTransport(o: SmtpOptions): Transporter {
  return nodemailer.createTransport({
    host: o.host || "localhost",
    port: o.port,
    secure: o.ssl,
    requireTLS: !o.ssl && o.starttls,
    ignoreTLS: !o.ssl && !o.starttls,
    auth: o.username && o.password ? { user: o.username, pass: o.password } : undefined,
    tls: { rejectUnauthorized: o.verifyCert },
    pool: true,
    maxConnections: PARALLEL,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

const CONNECTION_CODES = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETLS", "EPROTOCOL", "ESTREAM"]);

/** A failed send as the runtime is to see it: the server's problem (wait) or the message's. */
export function sendFailure(err: unknown): Error {
  const e = err as { code?: string; responseCode?: number; message?: string };
  // a certificate that is not accepted will not be accepted on the next try either
  const certificate = /certificate|self[- ]signed|CERT_/i.test(String(e.message ?? ""));
  const transient = !certificate && (e.code !== undefined && CONNECTION_CODES.has(e.code)) || (typeof e.responseCode === "number" && e.responseCode >= 400 && e.responseCode < 500);
  if (transient) return new PeerUnavailableError(`SMTP server: ${errorMessage(err)}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** Sends an input's mails, each once across redeliveries of the input. */
export class OnceSender {
  private constructor(private readonly ctx: BotContext, private readonly sent: Awaited<ReturnType<BotContext["cache"]>>) {}

  static async open(ctx: BotContext): Promise<OnceSender> {
    return new OnceSender(ctx, await ctx.cache(SENT_BUCKET, SENT_TTL_SECONDS));
  }

  /** Sends mails[i] unless noted as sent for this input; throws the first failure after the others of its round settled. */
  async send(transport: Transporter, input: InputRef, mails: readonly MailMessage[]): Promise<void> {
    const keyOf = (i: number): string => `${this.ctx.botId}.${input.key}.${i}`.replace(/[^A-Za-z0-9_=.-]/g, "_");
    for (let i = 0; i < mails.length; i += PARALLEL) {
      const round = mails.slice(i, i + PARALLEL).map(async (mail, k) => {
        const key = keyOf(i + k);
        if (await this.sent.get(key)) return;
        try {
          await transport.sendMail(mail);
        } catch (err) {
          throw sendFailure(err);
        }
        await this.sent.put(key, String(Date.now()));
        this.ctx.log.debug(`Sent mail to ${mail.envelope.to.join(", ")}.`);
      });
      const results = await Promise.allSettled(round);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    }
  }
}
