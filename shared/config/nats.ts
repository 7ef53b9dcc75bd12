// SPDX-License-Identifier: AGPL-3.0-only
/** Where NATS is and how to log in: resolved the same way by every tool. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { QueueSettings } from "../broker/index.js";
import { intelmqPaths } from "./paths.js";
import type { RuntimeConfig } from "./runtime-config.js";

/** The default server when neither NATS_URL nor global nats_servers is set. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Connection settings for NATS (a superset of the broker's JetStreamOptions). */
export interface NatsSettings {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Credentials file (JWT + NKey seed). */
  credsFile?: string;
  /** TLS: on with the given files; undefined = as the URL says. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

function str(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  const s = String(v);
  return s === "" ? undefined : s;
}

function splitServers(v: unknown): string[] {
  const list = Array.isArray(v) ? v.map(String) : typeof v === "string" ? v.split(",") : [];
  return list.map((s) => s.trim()).filter((s) => s !== "");
}

/** var/run/nats.url: where `npm start` wrote the address of the nats-server it started. */
export function natsUrlFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(intelmqPaths(env).runDir, "nats.url");
}

function readNatsUrlFile(env: NodeJS.ProcessEnv): string[] {
  try {
    return splitServers(readFileSync(natsUrlFile(env), "utf8").replace(/\s+/g, ","));
  } catch {
    return [];
  }
}

/**
 * NATS servers and credentials: NATS_URL (comma-separated) else global `nats_servers` else the
 * address in var/run/nats.url (written by `npm start` for the server it started) else
 * nats://127.0.0.1:4222; NATS_USER/NATS_PASSWORD/NATS_TOKEN/NATS_CREDS else global nats_user,
 * nats_password, nats_token, nats_creds; TLS from global nats_tls* (or NATS_TLS_CA/CERT/KEY).
 */
export function natsOptions(config: RuntimeConfig | null | undefined, env: NodeJS.ProcessEnv = process.env): NatsSettings {
  const g = config?.global ?? {};
  let servers = splitServers(env.NATS_URL);
  if (!servers.length) servers = splitServers(g.nats_servers);
  if (!servers.length) servers = readNatsUrlFile(env);
  if (!servers.length) servers = [DEFAULT_NATS_URL];
  const out: NatsSettings = { servers };
  const user = str(env.NATS_USER) ?? str(g.nats_user);
  const pass = str(env.NATS_PASSWORD) ?? str(g.nats_password);
  const token = str(env.NATS_TOKEN) ?? str(g.nats_token);
  const creds = str(env.NATS_CREDS) ?? str(g.nats_creds);
  if (user !== undefined) out.user = user;
  if (pass !== undefined) out.pass = pass;
  if (token !== undefined) out.token = token;
  if (creds !== undefined) out.credsFile = creds;
  const caFile = str(env.NATS_TLS_CA) ?? str(g.nats_tls_ca);
  const certFile = str(env.NATS_TLS_CERT) ?? str(g.nats_tls_cert);
  const keyFile = str(env.NATS_TLS_KEY) ?? str(g.nats_tls_key);
  if (g.nats_tls === true || caFile || certFile || keyFile) {
    out.tls = {};
    if (caFile) out.tls.caFile = caFile;
    if (certFile) out.tls.certFile = certFile;
    if (keyFile) out.tls.keyFile = keyFile;
  }
  return out;
}

/** Queue stream settings from global queue_* keys (unset keys keep the broker's defaults). */
export function queueSettings(config: RuntimeConfig | null | undefined): QueueSettings {
  const g = config?.global ?? {};
  const out: QueueSettings = {};
  const n = (v: unknown) => (v === null || v === undefined || v === "" ? undefined : Number(v));
  const maxBytes = n(g.queue_max_bytes);
  const window = n(g.queue_duplicate_window);
  const replicas = n(g.queue_replicas);
  if (maxBytes !== undefined) out.maxBytes = maxBytes;
  if (window !== undefined) out.duplicateWindowMs = Math.round(window * 1000);
  if (replicas !== undefined) out.replicas = replicas;
  const ackWait = n(g.queue_ack_wait);
  if (ackWait !== undefined) out.ackWaitMs = Math.round(ackWait * 1000);
  const archiveAge = n(g.archive_max_age);
  const archiveBytes = n(g.archive_max_bytes);
  if (archiveAge !== undefined) out.archiveMaxAgeMs = Math.round(archiveAge * 1000);
  if (archiveBytes !== undefined) out.archiveMaxBytes = archiveBytes;
  if (g.queue_archive !== undefined && g.queue_archive !== null) out.archive = g.queue_archive === true || String(g.queue_archive).toLowerCase() === "true";
  return out;
}

/** Queue names in a destination_queues value: a list, a map of paths to lists, or one name. */
function queueNames(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(queueNames);
  if (v && typeof v === "object") return Object.values(v).flatMap(queueNames);
  return [];
}

/** The queues collectors of the configuration feed (module intelmq.bots.collectors.* or group Collector). */
export function collectorQueues(config: RuntimeConfig | null | undefined): Set<string> {
  const out = new Set<string>();
  for (const b of Object.values(config?.bots ?? {})) {
    if (!b.module.startsWith("intelmq.bots.collectors.") && b.group !== "Collector") continue;
    for (const q of queueNames(b.parameters.destination_queues)) out.add(q);
  }
  return out;
}

/**
 * Settings of one queue. Archiving is decided by the configuration, not by who creates the
 * stream first: a server of 2.9 cannot add republish to an existing stream, so the parser that
 * creates its source queue before the collector starts must create it archived too.
 * queue_archive: unset archives the queues collectors feed, true every queue, false none.
 */
export function queueSettingsFor(config: RuntimeConfig | null | undefined, queue: string): QueueSettings {
  const s = queueSettings(config);
  if (s.archive === undefined && collectorQueues(config).has(queue)) s.archive = true;
  return s;
}
