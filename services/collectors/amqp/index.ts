// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AMQP collector: consumes a queue of an AMQP 0-9-1 server (RabbitMQ), each message a report,
 * acknowledged to the server only once its report is stored by the broker (IntelMQ's
 * intelmq.bots.collectors.amqp.collector_amqp).
 */
import { createHash } from "node:crypto";
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { z } from "zod";
import {
  collectorParams, defineBot, messageFromDict, p, ReportStream, errorMessage, InvalidArgument,
  type BotContext, type CollectorImpl, type Report,
} from "../../../shared/sdk/index.js";
import { RedeliveryGuard } from "./redelivery.js";

export const params = z.object({
  ...collectorParams,
  connection_host: z.string().default("127.0.0.1").describe("AMQP server"),
  connection_port: p.int().pipe(z.number().int().min(1).max(65535)).default(5672).describe("AMQP port"),
  connection_vhost: z.string().nullable().default(null).describe("Virtual host; null: the server's default (/)"),
  connection_attempts: p.int().pipe(z.number().int().positive()).default(3).describe("Connection attempts at start before the bot fails"),
  connection_heartbeat: p.int().pipe(z.number().int().min(0)).default(3600).describe("Heartbeat interval in seconds (0: none)"),
  username: z.string().nullable().default(null).describe("User name (with password)"),
  password: p.secret(z.string().nullable().default(null)).describe("Password"),
  use_ssl: p.bool().default(false).describe("Connect with TLS (amqps), the server's certificate verified"),
  queue_name: z.string().nullable().default(null).describe("Queue to consume"),
  expect_intelmq_message: p.bool().default(false)
    .describe("Messages are IntelMQ messages (JSON) and sent as they are; else each body is the raw of a new report"),
  prefetch_count: p.int().pipe(z.number().int().positive()).default(100)
    .describe("Ours: messages the server hands out before their reports are queued and acknowledged"),
  redelivery_ttl: p.int().pipe(z.number().int().positive()).default(86400)
    .describe("Ours: seconds a queued message is remembered (KV), so that its redelivery after a lost ack is not sent twice"),
}).strict();

export type Params = z.infer<typeof params>;

/** Bucket of the keys of queued messages (shared by the bot's instances). */
const BUCKET = "amqp-collector-queued";

/** The key of a message for recognising its redelivery: its message-id property, else its content. */
function keyOf(queue: string, msg: ConsumeMessage): string {
  const h = createHash("sha256").update(queue).update("\0");
  if (msg.properties.messageId) h.update("id\0").update(String(msg.properties.messageId));
  else h.update("body\0").update(msg.content);
  return h.digest("hex");
}

async function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  if (!prm.queue_name) throw new InvalidArgument("queue_name", prm.queue_name, "the name of the queue to consume");
  const queue = prm.queue_name;
  const stream = new ReportStream();
  const guard = new RedeliveryGuard(await ctx.cache(BUCKET, prm.redelivery_ttl), ctx);
  const url = {
    protocol: prm.use_ssl ? "amqps" : "amqp", hostname: prm.connection_host, port: prm.connection_port,
    vhost: prm.connection_vhost ?? "/", heartbeat: prm.connection_heartbeat,
    ...(prm.username && prm.password ? { username: prm.username, password: prm.password } : {}),
  };
  let model: ChannelModel | null = null;
  let stopping = false;
  let reconnectTimer: NodeJS.Timeout | null = null;

  const settle = (ch: Channel, msg: ConsumeMessage, how: "ack" | "requeue" | "reject"): void => {
    try {
      if (how === "ack") ch.ack(msg);
      else ch.nack(msg, false, how === "requeue");
    } catch (err) {
      // the channel is gone: the server hands the message out again, and its key tells it was queued
      ctx.log.debug(`Could not ${how} an AMQP message (${errorMessage(err)}); it will be redelivered.`);
    }
  };

  function reportOf(msg: ConsumeMessage): Report {
    if (prm.expect_intelmq_message) return messageFromDict(JSON.parse(msg.content.toString("utf8")) as Record<string, unknown>, { harmonization: ctx.harmonization }) as Report;
    const report = ctx.newReport();
    report.add("raw", msg.content);
    return report;
  }

  function push(ch: Channel, msg: ConsumeMessage, key: string): void {
    let report: Report;
    try {
      report = reportOf(msg);
    } catch (err) {
      // not a message: requeueing would hand it out forever; the server's dead-letter exchange gets it if any
      ctx.log.error(`Rejecting an AMQP message that is no IntelMQ message: ${errorMessage(err)}`);
      settle(ch, msg, "reject");
      return;
    }
    const tracked = guard.track(key);
    stream.push(report, {
      queued() {
        void tracked.queued().then(() => settle(ch, msg, "ack"));
      },
      failed(err) {
        ctx.log.warn(`A report could not be queued (${errorMessage(err)}); its AMQP message is requeued.`);
        settle(ch, msg, "requeue");
        tracked.failed();
      },
    });
  }

  async function onMessage(ch: Channel, msg: ConsumeMessage | null): Promise<void> {
    if (!msg) { ctx.log.warn(`The consumer of queue ${queue} was cancelled by the server.`); return; }
    const key = keyOf(queue, msg);
    if (msg.fields.redelivered) {
      // handed out before: its report may be queued already (the ack was lost with the connection)
      if (await guard.queuedBefore(key)) {
        ctx.log.debug("A redelivered AMQP message was queued before; acknowledging it.");
        settle(ch, msg, "ack");
        return;
      }
    }
    push(ch, msg, key);
  }

  async function open(): Promise<void> {
    const m = await connect(url);
    m.on("error", (err: Error) => ctx.log.warn(`AMQP connection error: ${errorMessage(err)}`));
    m.on("close", () => {
      if (model === m) model = null;
      if (!stopping) {
        ctx.log.error("The AMQP connection was closed; reconnecting.");
        scheduleReconnect(1);
      }
    });
    const ch = await m.createChannel();
    ch.on("error", (err: Error) => ctx.log.warn(`AMQP channel error: ${errorMessage(err)}`));
    await ch.prefetch(prm.prefetch_count);
    await ch.consume(queue, (msg) => { void onMessage(ch, msg); }, { noAck: false });
    model = m;
    ctx.log.info(`Connected to ${prm.connection_host}:${prm.connection_port}, consuming queue ${queue}.`);
  }

  function scheduleReconnect(attempt: number): void {
    if (stopping || reconnectTimer) return;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      if (stopping) return;
      open().catch((err: unknown) => {
        ctx.log.error(`Reconnecting to ${prm.connection_host}:${prm.connection_port} failed: ${errorMessage(err)}`);
        scheduleReconnect(attempt + 1);
      });
    }, delay);
  }

  for (let attempt = 1; ; attempt++) {
    try {
      await open();
      break;
    } catch (err) {
      if (attempt >= prm.connection_attempts) throw err;
      ctx.log.warn(`Connecting to ${prm.connection_host}:${prm.connection_port} failed (${errorMessage(err)}); attempt ${attempt + 1}.`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }

  return {
    streaming: true,
    collect: (signal) => stream.drain(signal),
    queued: (r) => stream.queued(r),
    failed: (r, err) => stream.failed(r, err),
    async shutdown() {
      stopping = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      stream.close(new Error("the collector stopped"));
      // unacknowledged messages go back to the queue when the connection closes
      await model?.close().catch(() => undefined);
      model = null;
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "amqp",
  intelmq: "intelmq.bots.collectors.amqp.collector_amqp",
  description: "Consumes a queue of an AMQP server (RabbitMQ), each message a report, acknowledged once the report is queued",
  params,
  create,
});
