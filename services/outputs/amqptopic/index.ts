// SPDX-License-Identifier: AGPL-3.0-only
/**
 * AMQP topic output: publishes each event to an AMQP exchange (IntelMQ's
 * intelmq.bots.outputs.amqptopic.output). An input's events are published on a confirm channel
 * and the flush waits for the broker's confirms of all of them: only confirmed inputs are
 * acknowledged. A message the broker could not route (mandatory) stops the bot, as in IntelMQ.
 */
import amqp from "amqplib";
import {
  ConfigurationError, defineBot, exportEventText, p, pyFormat, z, type BotContext, type Event, type ExportOptions, type InputRef, type OutputImpl,
} from "../../../shared/sdk/index.js";

export const params = z.object({
  connection_attempts: p.int().default(3).describe("Attempts to connect before a flush fails"),
  connection_heartbeat: p.int().default(3600).describe("AMQP heartbeat in seconds"),
  connection_host: z.string().default("127.0.0.1").describe("Host of the AMQP server"),
  connection_port: p.int().default(5672).describe("Port"),
  connection_vhost: z.string().nullable().default(null).describe("Virtual host (null: the server's default, /)"),
  content_type: z.string().default("application/json").describe("content_type property of the messages"),
  delivery_mode: p.int().default(2).describe("1: transient, 2: persistent"),
  exchange_durable: p.bool().default(true).describe("Declare the exchange durable"),
  exchange_name: z.string().nullable().default(null).describe("Exchange to publish to (null or empty: the default exchange, not declared)"),
  exchange_type: z.string().default("topic").describe("Type of the exchange when it is declared"),
  format_routing_key: p.bool().default(false).describe("Treat routing_key as a Python format string over the event: {ev[source.ip]}"),
  routing_key: z.string().nullable().default(null).describe("Routing key"),
  require_confirmation: p.bool().default(true).describe("Wait for the broker's publisher confirms before the input is acknowledged"),
  username: z.string().nullable().default(null).describe("User (used with password)"),
  password: p.secret(z.string().nullable().default(null).describe("Password")),
  use_ssl: p.bool().default(false).describe("Connect with TLS (amqps)"),
  message_hierarchical_output: p.bool().default(false).describe("Nest fields at their dots"),
  message_with_type: p.bool().default(false).describe("Include \"__type\": \"Event\""),
  message_jsondict_as_string: p.bool().default(false).describe("JSON-dict fields as JSON text (not applied to JSON text, as IntelMQ)"),
  single_key: z.union([z.string(), z.literal(false)]).nullable().default(false).transform((v) => v || null)
    .describe("Publish only this field's value"),
  keep_raw_field: p.bool().default(false).describe("Keep the raw field"),
}).strict();

export type Params = z.infer<typeof params>;

interface Pending { body: Buffer; routingKey: string }

function create(prm: Params, ctx: BotContext): OutputImpl {
  const exchange = prm.exchange_name ?? "";
  if (!exchange && !prm.routing_key) throw new ConfigurationError("routing_key", "is needed to publish to the default exchange");
  const opts: ExportOptions = {
    hierarchical_output: prm.message_hierarchical_output, message_with_type: prm.message_with_type,
    message_jsondict_as_string: prm.message_jsondict_as_string, single_key: prm.single_key, keep_raw_field: prm.keep_raw_field,
  };
  let conn: amqp.ChannelModel | null = null;
  let channel: amqp.ConfirmChannel | amqp.Channel | null = null;
  let returned: string | null = null;
  // Rejects the flush waiting for confirms when the channel or connection goes away (amqplib may leave them pending).
  let lost: ((err: Error) => void) | null = null;
  let pending: Pending[] = [];

  const drop = () => { channel = null; const c = conn; conn = null; void c?.close().catch(() => undefined); };
  const connect = async (): Promise<amqp.Channel> => {
    if (channel) return channel;
    let last: unknown;
    for (let attempt = 0; attempt < Math.max(1, prm.connection_attempts); attempt++) {
      try {
        const c = await amqp.connect({
          protocol: prm.use_ssl ? "amqps" : "amqp", hostname: prm.connection_host, port: prm.connection_port,
          vhost: prm.connection_vhost ?? "/", heartbeat: prm.connection_heartbeat,
          ...(prm.username !== null && prm.password !== null ? { username: prm.username, password: prm.password } : {}),
        });
        c.on("error", (err: unknown) => ctx.log.warn({ err }, "AMQP connection error"));
        c.on("close", () => { if (conn === c) { conn = null; channel = null; lost?.(new Error("AMQP connection closed")); } });
        conn = c;
        const ch = prm.require_confirmation ? await c.createConfirmChannel() : await c.createChannel();
        ch.on("error", (err: unknown) => ctx.log.warn({ err }, "AMQP channel error"));
        ch.on("close", () => { if (channel === ch) { drop(); lost?.(new Error("AMQP channel closed")); } });
        ch.on("return", (msg: amqp.Message) => { returned = msg.fields.routingKey; });
        if (exchange) await ch.assertExchange(exchange, prm.exchange_type, { durable: prm.exchange_durable });
        channel = ch;
        ctx.log.info(`AMQP connected to ${prm.connection_host}:${prm.connection_port}.`);
        return ch;
      } catch (err) {
        last = err;
        drop();
      }
    }
    throw new Error(`AMQP connection to ${prm.connection_host}:${prm.connection_port} failed`, { cause: last });
  };

  return {
    export(event: Event) {
      const routingKey = prm.format_routing_key ? pyFormat(prm.routing_key ?? "", { ev: event.toDict() }) : (prm.routing_key ?? "");
      // IntelMQ encodes with errors="backslashreplace": a lone surrogate becomes \udXXX text.
      const text = exportEventText(event, opts).replace(/[\ud800-\udfff]/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
      pending.push({ body: Buffer.from(text, "utf8"), routingKey });
    },
    async flush(input: InputRef) {
      const ch = await connect();
      returned = null;
      try {
        pending.forEach((m, i) => {
          ch.publish(exchange, m.routingKey, m.body, {
            contentType: prm.content_type, deliveryMode: prm.delivery_mode, mandatory: true, messageId: `${input.key}:${i}`,
          });
        });
        if (prm.require_confirmation) {
          await Promise.race([
            (ch as amqp.ConfirmChannel).waitForConfirms(),
            new Promise<never>((_, reject) => { lost = reject; }),
          ]);
        }
      } catch (err) {
        drop();
        throw err;
      } finally {
        lost = null;
      }
      if (returned !== null) {
        throw new ConfigurationError("exchange_name/routing_key", `the broker could not route a message (routing key ${JSON.stringify(returned)}): the destination queue does not exist, declare it first`);
      }
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() {
      const c = conn;
      conn = null; channel = null;
      await c?.close().catch(() => undefined);
    },
  };
}

export default defineBot({
  kind: "output",
  name: "amqptopic",
  intelmq: "intelmq.bots.outputs.amqptopic.output",
  description: "Publish events to an AMQP exchange with publisher confirms",
  params,
  create,
});
