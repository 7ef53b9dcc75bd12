// SPDX-License-Identifier: AGPL-3.0-only
/**
 * MQTT output (our own; IntelMQ has none): publishes each event to an MQTT broker's topic with
 * QoS 1 (or 2) and acknowledges the input only after the broker acknowledged every publication
 * (PUBACK, or PUBCOMP for QoS 2). `topic` may be a Python format string over the event.
 */
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { defineBot, exportEventText, outputParams, p, pyFormat, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  host: z.string().default("127.0.0.1").describe("Host of the MQTT broker"),
  port: p.int().default(1883).describe("Port"),
  topic: z.string().default("intelmq/events").describe("Topic to publish to"),
  format_topic: p.bool().default(false).describe("Treat topic as a Python format string over the event: intelmq/{ev[classification.type]}"),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).or(z.enum(["0", "1", "2"]).transform(Number)).default(1)
    .describe("QoS of the publications: 1 (PUBACK awaited) or 2; 0 waits for nothing"),
  retain: p.bool().default(false).describe("Publish with the retain flag"),
  client_id: z.string().nullable().default(null).describe("Client identifier (null: a random one)"),
  username: z.string().nullable().default(null).describe("User"),
  password: p.secret(z.string().nullable().default(null).describe("Password")),
  use_ssl: p.bool().default(false).describe("Connect with TLS (mqtts)"),
  ssl_ca_certificate: z.string().nullable().default(null).describe("CA certificate(s) of the broker (PEM file); null: the system's CAs"),
  keepalive: p.int().default(60).describe("Keep-alive interval in seconds"),
  publish_timeout: p.int().default(30).describe("Seconds to wait for the broker's acknowledgements before the flush fails"),
  ...outputParams,
}).strict();

export type Params = z.infer<typeof params>;

function create(prm: Params, ctx: BotContext): OutputImpl {
  const qos = prm.qos as 0 | 1 | 2;
  let client: mqtt.MqttClient | null = null;
  // Rejects when the current client's connection closes: a flush waiting for acknowledgements fails at once.
  let closed: Promise<never> = new Promise<never>(() => undefined);
  let pending: { topic: string; payload: Buffer }[] = [];

  const connect = async (): Promise<mqtt.MqttClient> => {
    if (client?.connected) return client;
    client?.end(true);
    client = null;
    const c = mqtt.connect({
      protocol: prm.use_ssl ? "mqtts" : "mqtt", host: prm.host, port: prm.port, keepalive: prm.keepalive,
      clientId: prm.client_id ?? undefined, username: prm.username ?? undefined, password: prm.password ?? undefined,
      ca: prm.use_ssl && prm.ssl_ca_certificate ? readFileSync(prm.ssl_ca_certificate) : undefined,
      // Reconnecting is ours to do, on the next flush: a publication is never left to a client-side store.
      reconnectPeriod: 0, connectTimeout: prm.publish_timeout * 1000, clean: true,
    });
    c.on("error", (err) => ctx.log.warn({ err }, "MQTT error"));
    await new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
      c.once("close", () => reject(new Error(`MQTT connection to ${prm.host}:${prm.port} closed`)));
    }).catch((err: unknown) => { c.end(true); throw err; });
    closed = new Promise<never>((_, reject) => c.once("close", () => reject(new Error("MQTT connection closed before every publication was acknowledged"))));
    closed.catch(() => undefined);
    ctx.log.info(`Connected to the MQTT broker ${prm.host}:${prm.port}.`);
    client = c;
    return c;
  };

  return {
    export(event: Event) {
      const topic = prm.format_topic ? pyFormat(prm.topic, { ev: event.toDict() }) : prm.topic;
      pending.push({ topic, payload: Buffer.from(exportEventText(event, prm), "utf8") });
    },
    async flush() {
      const c = await connect();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.all(pending.map((m) => c.publishAsync(m.topic, m.payload, { qos, retain: prm.retain }))),
          closed,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no MQTT acknowledgement within ${prm.publish_timeout} s`)), prm.publish_timeout * 1000);
          }),
        ]);
      } catch (err) {
        c.end(true);
        if (client === c) client = null;
        throw err;
      } finally {
        clearTimeout(timer);
      }
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() {
      const c = client;
      client = null;
      await c?.endAsync().catch(() => undefined);
    },
  };
}

export default defineBot({
  kind: "output",
  name: "mqtt",
  intelmq: "intelmq_nats.bots.outputs.mqtt.output",
  description: "Publish events to an MQTT broker with QoS 1, acknowledged after PUBACK (our own module)",
  params,
  create,
});
