// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The sending half of smtp_batch (IntelMQ runs it as `intelmq.bots.outputs.smtp_batch.output
 * <bot-id> --cli`; here `intelmq-smtp-batch <bot-id>`): the events kept per recipient in the
 * bot's KV bucket become one mail per recipient, its text the mail template, the events a CSV of
 * the allowed fields (with their translated names) zipped as the attachment. A recipient's
 * events are removed once the server took the mail, only the ones that went into it.
 */
import { readFileSync } from "node:fs";
import { crc32, deflateRawSync } from "node:zlib";
import nodemailer from "nodemailer";
import { ConfigurationError, PyDateTime, strftime } from "../../../shared/sdk/index.js";

/** What the sender needs of the bot's parameters. */
export interface BatchParams {
  alternative_mails: string | null;
  bcc: string[] | null;
  email_from: string;
  gpg_key: string | null;
  mail_template: string;
  ignore_older_than_days: number | null;
  limit_results: number | null;
  smtp_server: unknown;
  subject: string;
  attachment_name: string;
  testing_to: string | null;
  allowed_fieldnames: string[];
  fieldnames_translation: Record<string, string>;
}

/** The part of a KV bucket the sender uses. */
export interface BatchStore {
  entries(prefix?: string): Promise<Map<string, string>>;
  delete(key: string): Promise<void>;
}

export interface BatchMail {
  /** The recipient the events were kept for. */
  recipient: string;
  /** Where the mail goes (alternative_mails may change it). */
  to: string;
  keys: string[];
  count: number;
  zip: Buffer;
  csvName: string;
}

/** The key prefix of a recipient (its address base64url-encoded: any address is a valid key token). */
export function recipientToken(mail: string): string {
  return Buffer.from(mail, "utf8").toString("base64url") || "_";
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Python's csv.writer defaults: commas, minimal quoting, CRLF. */
function csvRow(values: readonly string[]): string {
  return values.map(csvField).join(",") + "\r\n";
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "True" : "False";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** A ZIP archive with one deflated file. */
export function zipOne(name: string, content: Buffer, when = new Date()): Buffer {
  const data = deflateRawSync(content);
  const crc = crc32(content);
  const nameBuf = Buffer.from(name, "utf8");
  const dosTime = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2);
  const dosDate = ((when.getUTCFullYear() - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate();
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0x0800, 6); local.writeUInt16LE(8, 8);
  local.writeUInt16LE(dosTime, 10); local.writeUInt16LE(dosDate, 12); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(content.length, 22); local.writeUInt16LE(nameBuf.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(8, 10); central.writeUInt16LE(dosTime, 12); central.writeUInt16LE(dosDate, 14); central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(content.length, 24); central.writeUInt16LE(nameBuf.length, 28);
  const centralOffset = local.length + nameBuf.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBuf.length, 12); end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBuf, data, central, nameBuf, end]);
}

function alternatives(file: string | null): Map<string, string> {
  const m = new Map<string, string>();
  if (!file) return m;
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const [a, b] = line.split(",");
    if (a && b) m.set(a.trim(), b.trim());
  }
  return m;
}

/** The mails of the kept events, one per recipient (at most limit_results); `warn` hears about skipped rows. */
export async function prepareMails(store: BatchStore, prm: BatchParams, now = new Date(), warn: (m: string) => void = () => undefined): Promise<BatchMail[]> {
  const byRecipient = new Map<string, [string, string][]>();
  for (const [key, value] of await store.entries()) {
    const token = key.split(".")[0]!;
    const list = byRecipient.get(token) ?? [];
    list.push([key, value]);
    byRecipient.set(token, list);
  }
  const alt = alternatives(prm.alternative_mails);
  const threshold = prm.ignore_older_than_days ? new Date(now.getTime() - prm.ignore_older_than_days * 86_400_000).toISOString().slice(0, 19) : null;
  const header = prm.allowed_fieldnames.map((f) => prm.fieldnames_translation[f] ?? f);
  const mails: BatchMail[] = [];
  for (const [token, items] of [...byRecipient].slice(0, prm.limit_results ?? undefined)) {
    const recipient = Buffer.from(token, "base64url").toString("utf8");
    items.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let csv = csvRow(header);
    let count = 0;
    for (const [, json] of items) {
      const row = JSON.parse(json) as Record<string, unknown>;
      const observed = row["time.observation"];
      if (typeof observed !== "string") warn(`Warning: row skipped due to time.observation error: ${recipient}`);
      else if (threshold && observed.slice(0, 19) < threshold) continue;
      if (typeof row.raw === "string") {
        row.raw = Buffer.from(row.raw, "base64").toString("utf8").trim().replace(/\n/g, "\\n").replace(/\r/g, "\\r");
      }
      csv += csvRow(prm.allowed_fieldnames.map((f) => cell(row[f])));
      count++;
    }
    if (!count) continue;
    const csvName = `${strftime(new PyDateTime(now), "%y%m%d")}_${count}_events.csv`;
    mails.push({ recipient, to: alt.get(recipient) ?? recipient, keys: items.map(([k]) => k), count, zip: zipOne(csvName, Buffer.from(csv, "utf8"), now), csvName });
  }
  return mails;
}

/** smtp_server as envelope's: "host", "host:port", or {host, port, user, password, security}. */
export function smtpOptions(server: unknown): Record<string, unknown> {
  if (typeof server === "string") {
    const m = /^(.*?)(?::(\d+))?$/.exec(server)!;
    return { host: m[1] || "localhost", port: m[2] ? Number(m[2]) : 25, ignoreTLS: true };
  }
  if (server && typeof server === "object" && !Array.isArray(server)) {
    const s = server as Record<string, unknown>;
    const security = String(s.security ?? "");
    const o: Record<string, unknown> = { host: String(s.host ?? "localhost"), port: Number(s.port ?? (security === "tls" ? 465 : 25)) };
    if (security === "tls") o.secure = true;
    else if (security === "starttls") o.requireTLS = true;
    else o.ignoreTLS = true;
    if (s.user && s.password) o.auth = { user: String(s.user), pass: String(s.password) };
    return o as Record<string, unknown>;
  }
  throw new ConfigurationError("smtp_server", "a host, host:port, or {host, port, user, password, security}");
}

function timeText(fmt: string, now: Date): string {
  return strftime(new PyDateTime(now), fmt);
}

/**
 * Sends the mails (to `overrideTo` instead, for a tester: then nothing is removed). Returns
 * how many went; a mail the server refused stays kept, and the error is thrown after the others.
 */
export async function sendMails(store: BatchStore, prm: BatchParams, mails: readonly BatchMail[], opts: { overrideTo?: string | null; now?: Date } = {}): Promise<number> {
  if (prm.gpg_key) throw new ConfigurationError("gpg_key", "signing with GPG is not supported by this implementation");
  const now = opts.now ?? new Date();
  const text = readFileSync(prm.mail_template, "utf8");
  const transport = nodemailer.createTransport(smtpOptions(prm.smtp_server));
  let sent = 0;
  let failure: unknown = null;
  try {
    for (const mail of mails) {
      const to = opts.overrideTo || mail.to;
      const subject = `${timeText(prm.subject, now)} (${opts.overrideTo ? `intended for ${mail.to}` : to})`;
      const bcc = !opts.overrideTo && prm.bcc?.length ? prm.bcc : [];
      try {
        await transport.sendMail({
          from: prm.email_from, to, bcc, subject, text,
          attachments: [{ filename: `${timeText(prm.attachment_name, now)}.zip`, content: mail.zip, contentType: "application/zip" }],
        });
      } catch (err) {
        failure ??= err;
        continue;
      }
      sent++;
      if (!opts.overrideTo) for (const k of mail.keys) await store.delete(k);
    }
  } finally {
    transport.close();
  }
  if (failure) throw failure;
  return sent;
}
