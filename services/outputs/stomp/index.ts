// SPDX-License-Identifier: AGPL-3.0-only
/**
 * STOMP output: sends each event to a STOMP destination (IntelMQ's intelmq.bots.outputs.stomp.output).
 * Every SEND asks for a receipt and the flush waits for all receipts of the input before it is
 * acknowledged (RabbitMQ, for one, sends a SEND's receipt once the message is confirmed).
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { ConfigurationError, defineBot, exportEventText, p, z, type BotContext, type Event, type ExportOptions, type OutputImpl } from "../../../shared/sdk/index.js";
import { StompConnection } from "./client.js";

export const params = z.object({
  server: z.string().default("127.0.0.1").describe("Host of the STOMP server"),
  port: p.int().default(61614).describe("Port"),
  exchange: z.string().default("/exchange/_push").describe("Destination of the SEND frames"),
  heartbeat: p.int().default(60000).describe("Heart-beat interval in milliseconds"),
  use_ssl: p.bool().default(true).describe("Connect with TLS, as IntelMQ always does (our addition: false for a plain connection)"),
  ssl_ca_certificate: z.string().default("ca.pem").describe("CA certificate(s) of the server (PEM file); empty: the system's CAs"),
  auth_by_ssl_client_certificate: p.bool().default(true).describe("Authenticate with a client certificate instead of username/password"),
  ssl_client_certificate: z.string().default("client.pem").describe("Client certificate (PEM file)"),
  ssl_client_certificate_key: z.string().default("client.key").describe("Key of the client certificate (PEM file)"),
  username: z.string().default("guest").describe("STOMP login (without client certificate authentication)"),
  password: p.secret(z.string().default("guest").describe("STOMP passcode")),
  http_verify_cert: p.bool().default(true).describe("Unused (IntelMQ declares it)"),
  receipt_timeout: p.int().default(30).describe("Seconds to wait for the server's receipts before the flush fails (our addition)"),
  message_hierarchical_output: p.bool().default(false).describe("Nest fields at their dots"),
  message_with_type: p.bool().default(false).describe("Include \"__type\": \"Event\""),
  message_jsondict_as_string: p.bool().default(false).describe("JSON-dict fields as JSON text (not applied to JSON text, as IntelMQ)"),
  single_key: z.union([z.string(), z.literal(false)]).nullable().default(false).transform((v) => v || null).describe("Send only this field's value"),
  keep_raw_field: p.bool().default(false).describe("Keep the raw field"),
}).strict();

export type Params = z.infer<typeof params>;

function readPem(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigurationError(param, `cannot open ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
}

function tlsOptions(prm: Params): ConnectionOptions | null {
  if (!prm.use_ssl) return null;
  const o: ConnectionOptions = { servername: prm.server };
  if (prm.ssl_ca_certificate) o.ca = readPem("ssl_ca_certificate", prm.ssl_ca_certificate);
  if (prm.auth_by_ssl_client_certificate) {
    o.cert = readPem("ssl_client_certificate", prm.ssl_client_certificate);
    o.key = readPem("ssl_client_certificate_key", prm.ssl_client_certificate_key);
  }
  return o;
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  const tls = tlsOptions(prm);
  const opts: ExportOptions = {
    hierarchical_output: prm.message_hierarchical_output, message_with_type: prm.message_with_type,
    message_jsondict_as_string: prm.message_jsondict_as_string, single_key: prm.single_key, keep_raw_field: prm.keep_raw_field,
  };
  const timeoutMs = prm.receipt_timeout * 1000;
  let conn: StompConnection | null = null;
  let pending: Buffer[] = [];
  const connection = async () => {
    if (conn && !conn.closed) return conn;
    const auth = prm.use_ssl && prm.auth_by_ssl_client_certificate ? {} : { login: prm.username, passcode: prm.password };
    conn = await StompConnection.open({ host: prm.server, port: prm.port, tls, heartbeat: prm.heartbeat, timeoutMs, ...auth });
    ctx.log.info(`Connected to the STOMP server ${prm.server}:${prm.port}.`);
    return conn;
  };
  return {
    export(event: Event) {
      pending.push(Buffer.from(exportEventText(event, opts), "utf8"));
    },
    async flush() {
      const c = await connection();
      await c.send(prm.exchange, pending, prm.single_key ? "text/plain" : "application/json", timeoutMs);
      pending = [];
    },
    discard() { pending = []; },
    shutdown() { conn?.close(); conn = null; },
  };
}

export default defineBot({
  kind: "output",
  name: "stomp",
  intelmq: "intelmq.bots.outputs.stomp.output",
  description: "Send events to a STOMP server, each confirmed by a receipt",
  params,
  create,
});
