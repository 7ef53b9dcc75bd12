// SPDX-License-Identifier: AGPL-3.0-only
/**
 * SMTP batch output (IntelMQ's intelmq.bots.outputs.smtp_batch.output): keeps every event that
 * has a source.abuse_contact, per recipient, for a person to send later as one mail per
 * recipient with the events zipped as CSV (`intelmq-smtp-batch <bot-id>`, see batch.ts). IntelMQ
 * keeps them in Redis lists; here they are in the bot's NATS KV bucket, one key per event
 * (`<recipient>.<input>.<index>`): an input that comes again writes the same keys, so nothing is
 * kept twice, and the input is acknowledged once its events are stored.
 */
import { z } from "zod";
import { defineBot, p, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";
import { recipientToken } from "./batch.js";

const ALLOWED = ["time.source", "source.ip", "classification.taxonomy", "classification.type", "time.observation", "source.geolocation.cc", "source.asn",
  "event_description.text", "malware.name", "feed.name", "feed.url", "raw"];
const TRANSLATION: Record<string, string> = {
  "time.source": "time_detected", "source.ip": "ip", "classification.taxonomy": "class", "classification.type": "type", "time.observation": "time_delivered",
  "source.geolocation.cc": "country_code", "source.asn": "asn", "event_description.text": "description", "malware.name": "malware", "feed.name": "feed_name",
  "feed.url": "feed_url", raw: "raw",
};

export const params = z.object({
  alternative_mails: z.string().nullable().default(null).transform((v) => v || null).describe("CSV file of `original,alternative` addresses to send to instead"),
  bcc: p.list().nullable().default(null).describe("Addresses in Bcc of every mail (not of tester mails)"),
  email_from: z.string().default("").describe("Sender of the mails"),
  gpg_key: z.string().nullable().default(null).transform((v) => v || null).describe("GPG key to sign with: not supported here (sending fails when set)"),
  gpg_pass: p.secret(z.string().nullable().default(null)).describe("Passphrase of gpg_key (unused)"),
  mail_template: z.string().default("").describe("File whose text is the body of every mail"),
  ignore_older_than_days: p.int().nullable().default(null).describe("Leave out events whose time.observation is older than this many days (0 or unset: all)"),
  limit_results: p.int().nullable().default(null).describe("Send at most this many mails (recipients) per run"),
  redis_cache_db: p.int().default(15).describe("Accepted for IntelMQ compatibility and ignored: events are kept in the NATS KV bucket smtp-batch-<bot-id>"),
  redis_cache_host: z.string().default("").describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_port: p.int().default(0).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_ttl: p.int().pipe(z.number().int().positive()).default(1_728_000).describe("Seconds an event is kept: the TTL of the bucket"),
  smtp_server: z.unknown().default("localhost").describe("SMTP server: \"host\", \"host:port\" or {host, port, user, password, security: starttls|tls}"),
  subject: z.string().default("IntelMQ warning (%Y-%m-%d)").describe("Subject (strftime), followed by \" (<recipient>)\""),
  attachment_name: z.string().default("intelmq_%Y-%m-%d").describe("Name of the zip attachment without .zip (strftime)"),
  testing_to: z.string().nullable().default(null).transform((v) => v || null).describe("Tester's address for --tester runs"),
  allowed_fieldnames: p.list().default(ALLOWED).describe("Fields in the CSV, in this order"),
  fieldnames_translation: z.record(z.string(), z.string()).default(TRANSLATION).describe("CSV column names of the fields"),
}).strict();

export type Params = z.infer<typeof params>;

/** The bot's bucket (a valid bucket name whatever the bot id). */
export function batchBucket(botId: string): string {
  return `smtp-batch-${botId}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  // opened at the first flush: a broker that is away then is the flush's failure, waited out
  let store: Awaited<ReturnType<BotContext["cache"]>> | null = null;
  let pending: { recipients: string[]; json: string }[] = [];
  return {
    export(event: Event) {
      if (!event.has("source.abuse_contact")) return;
      const field = event.get("source.abuse_contact");
      const recipients = (Array.isArray(field) ? field : [field]).map(String);
      pending.push({ recipients, json: event.toJson() });
    },
    async flush(input: InputRef) {
      if (pending.length === 0) return;
      const kv = (store ??= await ctx.cache(batchBucket(ctx.botId), prm.redis_cache_ttl));
      const inputToken = input.key.replace(/[^A-Za-z0-9_=-]/g, "_");
      for (let i = 0; i < pending.length; i++) {
        for (const r of pending[i]!.recipients) await kv.put(`${recipientToken(r)}.${inputToken}.${i}`, pending[i]!.json);
      }
      pending = [];
    },
    discard() {
      pending = [];
    },
  };
}

export default defineBot({
  kind: "output",
  name: "smtp_batch",
  intelmq: "intelmq.bots.outputs.smtp_batch.output",
  description: "Keep events per abuse contact in a KV bucket, to send them later as one mail per recipient with a zipped CSV (intelmq-smtp-batch)",
  params,
  create,
});
