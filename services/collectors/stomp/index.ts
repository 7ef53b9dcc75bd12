// SPDX-License-Identifier: AGPL-3.0-only
/**
 * STOMP collector: subscribes to a destination of a STOMP server (CERT.PL's n6 stream), each
 * message a report, acknowledged (client-individual) only once its report is stored by the broker
 * (IntelMQ's intelmq.bots.collectors.stomp.collector).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { z } from "zod";
import {
  collectorParams, defineBot, p, ReportStream, errorMessage, ConfigurationError,
  type BotContext, type CollectorImpl, type Report,
} from "../../../shared/sdk/index.js";
import { RedeliveryGuard } from "../amqp/redelivery.js";
import { StompConnection, type Frame } from "./client.js";

export const params = z.object({
  ...collectorParams,
  server: z.string().default("n6stream.cert.pl").describe("STOMP server"),
  port: p.int().pipe(z.number().int().min(1).max(65535)).default(61614).describe("STOMP port"),
  exchange: z.string().default("").describe("Destination to subscribe to, e.g. /exchange/<name>/#"),
  heartbeat: p.int().pipe(z.number().int().min(0)).default(6000).describe("Heart-beat interval in milliseconds (0: none)"),
  ssl_ca_certificate: z.string().nullable().default("").describe("CA certificate(s) to verify the server with; empty: the system's CAs"),
  auth_by_ssl_client_certificate: p.bool().default(true)
    .describe("Log in with a TLS client certificate (ssl_client_certificate and its key); false: with username and password"),
  ssl_client_certificate: z.string().nullable().default("client.pem").describe("Client certificate file (auth_by_ssl_client_certificate)"),
  ssl_client_certificate_key: z.string().nullable().default("client.key").describe("Key file of the client certificate"),
  username: z.string().default("guest").describe("STOMP login (without client certificate)"),
  password: p.secret(z.string().default("guest")).describe("STOMP passcode (without client certificate)"),
  use_ssl: p.bool().default(true).describe("Ours: TLS (as IntelMQ always does); false: plain TCP, e.g. a local RabbitMQ STOMP port"),
  vhost: z.string().nullable().default(null).describe("Ours: the host header of CONNECT (the virtual host); null: the server name"),
  prefetch_count: p.int().pipe(z.number().int().positive()).default(100)
    .describe("Ours: messages the server hands out before their reports are queued and acknowledged (RabbitMQ's prefetch-count)"),
  redelivery_ttl: p.int().pipe(z.number().int().positive()).default(86400)
    .describe("Ours: seconds a queued message is remembered (KV), so that a redelivery after a lost ack is not sent twice"),
}).strict();

export type Params = z.infer<typeof params>;

const BUCKET = "stomp-collector-queued";

/** Python's str.rstrip(): trailing whitespace (str.isspace) removed. */
const rstrip = (s: string) => s.replace(/[\s\u001c-\u001f\u0085]+$/u, "");

function tlsOptions(prm: Params, ctx: BotContext): ConnectionOptions | null {
  if (!prm.use_ssl) return null;
  const file = (name: "ssl_ca_certificate" | "ssl_client_certificate" | "ssl_client_certificate_key"): Buffer => {
    const path = prm[name];
    if (!path) throw new ConfigurationError("stomp", `Parameter '${name}' is not given (or is set to None).`);
    const full = path.startsWith("/") ? path : `${ctx.rootDir}/${path}`;
    if (!existsSync(full)) throw new ConfigurationError("stomp", `Cannot open file specified as parameter '${name}' (${full}).`);
    return readFileSync(full);
  };
  const tls: ConnectionOptions = { rejectUnauthorized: true };
  if (prm.ssl_ca_certificate) tls.ca = file("ssl_ca_certificate");
  if (prm.auth_by_ssl_client_certificate) {
    tls.cert = file("ssl_client_certificate");
    tls.key = file("ssl_client_certificate_key");
  }
  return tls;
}

async function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  const tls = tlsOptions(prm, ctx);
  const stream = new ReportStream();
  const guard = new RedeliveryGuard(await ctx.cache(BUCKET, prm.redelivery_ttl), ctx);
  const feedUrl = `stomp://${prm.server}:${prm.port}/${prm.exchange}`;
  const certAuth = prm.use_ssl && prm.auth_by_ssl_client_certificate;
  let conn: StompConnection | null = null;
  let stopping = false;
  let reconnectTimer: NodeJS.Timeout | null = null;

  function onMessage(c: StompConnection, frame: Frame): void {
    // a message RabbitMQ hands out again says so; its key is its destination and body
    const key = createHash("sha256").update(prm.exchange).update("\0").update(frame.body).digest("hex");
    const push = () => {
      const body = frame.body.toString("utf8");
      ctx.log.debug(`Receive message ${JSON.stringify(body.slice(0, 500))}...`);
      const report = ctx.newReport();
      report.add("raw", rstrip(body));
      report.add("feed.url", feedUrl);
      const tracked = guard.track(key);
      stream.push(report, {
        queued() { void tracked.queued().then(() => c.settle(frame, true)); },
        failed(err) {
          ctx.log.warn(`A report could not be queued (${errorMessage(err)}); its STOMP message is refused (NACK).`);
          c.settle(frame, false);
          tracked.failed();
        },
      });
    };
    if (frame.headers.redelivered !== "true") { push(); return; }
    void guard.queuedBefore(key).then((before) => {
      if (!before) { push(); return; }
      ctx.log.debug("A redelivered STOMP message was queued before; acknowledging it.");
      c.settle(frame, true);
    });
  }

  async function open(): Promise<void> {
    const c = new StompConnection({
      host: prm.server, port: prm.port, tls, vhost: prm.vhost ?? prm.server, heartbeatMs: prm.heartbeat,
      ...(certAuth ? {} : { login: prm.username, passcode: prm.password }),
    });
    c.on("message", (f: Frame) => onMessage(c, f));
    c.on("server-error", (f: Frame) => ctx.log.error(`Received an error: ${JSON.stringify(f.headers.message ?? "")} ${JSON.stringify(f.body.toString("utf8"))}.`));
    c.on("close", (err: Error | null) => {
      if (conn === c) conn = null;
      if (stopping) return;
      ctx.log.info(`Detected disconnect (${err ? err.message : "closed"}); reconnecting.`);
      scheduleReconnect(1);
    });
    await c.open();
    c.subscribe("1", prm.exchange, { "prefetch-count": String(prm.prefetch_count) });
    conn = c;
    ctx.log.info("Successfully connected and subscribed.");
  }

  function scheduleReconnect(attempt: number): void {
    if (stopping || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      if (stopping) return;
      open().catch((err: unknown) => {
        ctx.log.error(`Reconnecting to ${prm.server}:${prm.port} failed: ${errorMessage(err)}`);
        scheduleReconnect(attempt + 1);
      });
    }, Math.min(30_000, 250 * 2 ** Math.min(attempt, 7)));
  }

  await open();

  return {
    streaming: true,
    collect: (signal) => stream.drain(signal),
    queued: (r: Report) => stream.queued(r),
    failed: (r: Report, err: unknown) => stream.failed(r, err),
    shutdown() {
      stopping = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      stream.close(new Error("the collector stopped"));
      // messages not acknowledged are handed out again by the server
      conn?.close();
      conn = null;
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "stomp",
  intelmq: "intelmq.bots.collectors.stomp.collector",
  description: "Subscribes to a STOMP destination (CERT.PL's n6 stream), each message a report, acknowledged once queued",
  params,
  create,
});
