// SPDX-License-Identifier: AGPL-3.0-only
/** How the command-line tools (intelmqctl, intelmqdump) connect to NATS. */
import { pino } from "pino";
import { connectJetStream, type Broker, type JetStreamOptions } from "../shared/broker/index.js";
import { ADMIN_IDENTITY, natsOptions, type RuntimeConfig } from "../shared/config/index.js";

/** Connect as every tool does (NATS_URL, global nats_*); the CLI gives up quickly instead of reconnecting for ever. */
export async function connectCtl(config: RuntimeConfig | null, name = "intelmqctl"): Promise<Broker> {
  // Operators' tools use admin.creds of a credentials dir (intelmqctl nats-config).
  const nats = natsOptions(config, process.env, ADMIN_IDENTITY);
  const opts: JetStreamOptions = {
    servers: nats.servers, name, maxReconnectAttempts: 3, reconnectTimeWaitMs: 500, limits: nats.limits,
    logger: pino({ level: "error" }, pino.destination(2)),
  };
  if (nats.user !== undefined) opts.user = nats.user;
  if (nats.pass !== undefined) opts.pass = nats.pass;
  if (nats.token !== undefined) opts.token = nats.token;
  if (nats.credsFile !== undefined) opts.credsFile = nats.credsFile;
  if (nats.inboxPrefix !== undefined) opts.inboxPrefix = nats.inboxPrefix;
  if (nats.tls !== undefined) opts.tls = nats.tls;
  return await connectJetStream(opts);
}
