// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The JetStream broker (ARCHITECTURE.md "Queues on JetStream"): a connection and its parts, one
 * file each: queues, dumps, logs, archive, KV buckets and the control plane's request/reply.
 */
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, type Authenticator, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { pino, type Logger } from "pino";
import { BrokerUnavailableError, ConfigurationError, errorMessage, UnsupportedFeatureError } from "../../errors/index.js";
import { checkServerVersion, DEFAULTS } from "../names.js";
import type { BrokerLimits, BrokerState, JetStreamBroker } from "../types.js";
import { JsConnection } from "./connection.js";
import { JsQueues } from "./queues.js";
import { JsDumps } from "./dumps.js";
import { JsLogs } from "./logs.js";
import { JsArchive } from "./archive.js";
import { JsKvBuckets } from "./kv.js";
import { JsControl } from "./control.js";

/** Used when the caller gives no logger: stderr, so that a CLI's results on stdout stay clean. */
const defaultLog = pino({ name: "broker", level: process.env["INTELMQ_BROKER_LOG_LEVEL"] ?? "info" }, pino.destination(2));

/** Options of connectJetStream(). */
export interface JetStreamOptions {
  /** nats:// URLs; default NATS_URL or nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** Connection name shown by the server (e.g. the bot id). */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Credentials file: a JWT creds file (JWT + NKey seed) or a bare NKey user seed (SU...). */
  credsFile?: string;
  /** Prefix of reply subjects (default _INBOX): with per-user permissions each user has its own. */
  inboxPrefix?: string;
  /** TLS files; present = TLS on. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Reconnect for ever (default, -1) or give up after this many attempts. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts (ms, default 1000). */
  reconnectTimeWaitMs?: number;
  /** Bound of every publish, ack and API request (ms, default 5000). */
  timeoutMs?: number;
  /** Logger for the broker's own messages (a child with module "broker" is used). */
  logger?: Logger;
  /** Size limits of the streams and buckets it creates besides the queues (runtime.yaml's); unset: the defaults. */
  limits?: BrokerLimits;
}

/**
 * The authenticator of a credentials file: a bare NKey user seed (one line SU...) signs the
 * server's nonce as that NKey user; anything else is read as a JWT creds file. The file is read
 * here once; its content never goes into an error message.
 */
export function credentialsAuthenticator(file: string): Authenticator {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigurationError("NATS credentials", `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
  const seed = text.trim();
  if (/^SU[A-Z2-7]+$/.test(seed)) return nkeyAuthenticator(new TextEncoder().encode(seed));
  if (!text.includes("-----BEGIN NATS USER JWT-----")) {
    throw new ConfigurationError("NATS credentials", `${file} holds neither a JWT creds file nor an NKey user seed (SU...)`);
  }
  return credsAuthenticator(new TextEncoder().encode(text));
}

/** Connect to NATS, check the server version (2.9+), return the JetStream broker. */
export async function connectJetStream(opts: JetStreamOptions = {}): Promise<JetStreamBroker> {
  const servers = opts.servers ?? (process.env["NATS_URL"] ? process.env["NATS_URL"].split(",").map((s) => s.trim()) : "nats://127.0.0.1:4222");
  const co: NodeConnectionOptions = {
    servers,
    maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
    // The first connect fails fast; later losses reconnect for ever.
    waitOnFirstConnect: false,
    // Capturing a stack per request costs a third of the CPU of a hop; our errors say what failed.
    noAsyncTraces: true,
  };
  if (opts.name) co.name = opts.name;
  if (opts.user !== undefined) co.user = opts.user;
  if (opts.pass !== undefined) co.pass = opts.pass;
  if (opts.token !== undefined) co.token = opts.token;
  if (opts.credsFile) co.authenticator = credentialsAuthenticator(opts.credsFile);
  if (opts.inboxPrefix) co.inboxPrefix = opts.inboxPrefix;
  if (opts.tls) {
    co.tls = {};
    if (opts.tls.caFile) co.tls.caFile = opts.tls.caFile;
    if (opts.tls.certFile) co.tls.certFile = opts.tls.certFile;
    if (opts.tls.keyFile) co.tls.keyFile = opts.tls.keyFile;
  }
  let nc: NatsConnection;
  try {
    nc = await connect(co);
  } catch (err) {
    // Refused credentials do not get better by waiting: a configuration error, not an outage.
    if (/authorization violation|authentication (expired|revoked)/i.test(errorMessage(err))) {
      throw new ConfigurationError("NATS credentials", `the NATS server at ${String(servers)} refused them (${errorMessage(err)})`, { cause: err });
    }
    throw new BrokerUnavailableError(`cannot connect to NATS at ${String(servers)}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const info = nc.info;
    const version = info?.version ?? "";
    checkServerVersion(version);
    if (info && info.jetstream === false) {
      throw new UnsupportedFeatureError(`JetStream is not enabled on the NATS server at ${String(servers)} (start nats-server with -js)`);
    }
    const timeout = opts.timeoutMs ?? DEFAULTS.publishTimeoutMs;
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout });
    } catch (err) {
      throw new UnsupportedFeatureError(`JetStream is not available on the NATS server at ${String(servers)}: ${errorMessage(err)}`, { cause: err });
    }
    const log = opts.logger ? opts.logger.child({ module: "broker" }) : defaultLog;
    return new JsBroker(new JsConnection(nc, jsm, jetstream(nc, { timeout }), version, info?.max_payload ?? 1024 * 1024, timeout, log, opts.limits ?? {}));
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

class JsBroker implements JetStreamBroker {
  readonly kind = "jetstream" as const;
  readonly queues: JsQueues;
  readonly dumps: JsDumps;
  readonly logs: JsLogs;
  readonly archive: JsArchive;
  readonly kv: JsKvBuckets;
  readonly control: JsControl;

  constructor(private readonly c: JsConnection) {
    this.archive = new JsArchive(c);
    this.queues = new JsQueues(c, (s, explicit) => this.archive.ensureStream(s, explicit));
    this.archive.queues = this.queues;
    this.dumps = new JsDumps(c);
    this.logs = new JsLogs(c);
    this.kv = new JsKvBuckets(c);
    this.control = new JsControl(c);
  }

  get limits(): Readonly<Required<BrokerLimits>> { return this.c.limits; }
  get serverVersion(): string { return this.c.serverVersion; }
  get maxPayload(): number { return this.c.maxPayload; }
  get state(): BrokerState { return this.c.state; }

  onState(listener: (s: BrokerState) => void): () => void {
    return this.c.onState(listener);
  }

  serverInfo(): { version: string; url: string; cluster?: string } {
    const cluster = this.c.nc.info?.cluster;
    return { version: this.c.serverVersion, url: `nats://${this.c.nc.getServer()}`, ...(cluster ? { cluster } : {}) };
  }

  async close(): Promise<void> {
    if (this.c.state === "closed" && this.c.nc.isClosed()) return;
    // Unacked work goes back at once rather than after ack_wait.
    await this.queues.handBack();
    await this.c.close();
  }
}
