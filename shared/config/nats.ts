// SPDX-License-Identifier: AGPL-3.0-only
/** Where NATS is and how to log in: resolved the same way by every tool. */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { BrokerLimits, QueueSettings } from "../broker/index.js";
import { globalSettings, queueLimitsSchema } from "./global.js";
import { intelmqPaths, rootDir } from "./paths.js";
import { effectiveParams, type BotEntry, type RuntimeConfig } from "./runtime-config.js";

/** The default server when neither NATS_URL nor global nats_servers is set. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Connection settings for NATS (a superset of the broker's JetStreamOptions). */
export interface NatsSettings {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Credentials file (JWT + NKey seed, or a bare NKey seed). */
  credsFile?: string;
  /** Prefix of reply subjects: each identity of a credentials dir has its own, its permissions allow only that one. */
  inboxPrefix?: string;
  /** TLS: on with the given files; undefined = as the URL says. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Size limits of the streams and buckets the broker creates (global *_max_bytes). */
  limits: BrokerLimits;
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

/**
 * Credentials written into a server URL (nats://user:pass@host, nats://token@host) taken out of it:
 * the client is given them as credentials and the URL, which is logged, holds none.
 */
export function splitCredentials(servers: string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  for (const s of servers) {
    const at = s.lastIndexOf("@");
    if (at < 0) { out.servers.push(s); continue; }
    const scheme = /^[a-z]+:\/\//i.exec(s)?.[0] ?? "";
    const info = s.slice(scheme.length, at);
    out.servers.push(scheme + s.slice(at + 1));
    const colon = info.indexOf(":");
    const dec = (x: string) => { try { return decodeURIComponent(x); } catch { return x; } };
    if (colon >= 0) { out.user ??= dec(info.slice(0, colon)); out.pass ??= dec(info.slice(colon + 1)); } else if (info) out.token ??= dec(info);
  }
  return out;
}

/** A server URL as it may be shown: credentials in it replaced by ***. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)?[^@/]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ""}***@`);
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
export function natsOptions(config: RuntimeConfig | null | undefined, env: NodeJS.ProcessEnv = process.env, identity?: string): NatsSettings {
  const g = globalSettings(config?.global);
  let servers = splitServers(env.NATS_URL);
  if (!servers.length) servers = splitServers(g.nats_servers);
  // The server `npm start` started requires the credentials it made (LOCAL_AUTH_DIR).
  let local = false;
  if (!servers.length) local = (servers = readNatsUrlFile(env)).length > 0;
  if (!servers.length) servers = [DEFAULT_NATS_URL];
  const inUrl = splitCredentials(servers);
  const out: NatsSettings = { servers: inUrl.servers, limits: brokerLimits(config) };
  const user = str(env.NATS_USER) ?? str(g.nats_user) ?? inUrl.user;
  const pass = str(env.NATS_PASSWORD) ?? str(g.nats_password) ?? inUrl.pass;
  const token = str(env.NATS_TOKEN) ?? str(g.nats_token) ?? inUrl.token;
  // A credentials dir (intelmqctl nats-config) names each identity's own file; it wins over
  // NATS_CREDS, which children of the control service would otherwise inherit.
  const own = identity === undefined ? undefined : credentialsFile(config, identity, env, local);
  const creds = own ?? str(env.NATS_CREDS) ?? str(g.nats_creds);
  if (own !== undefined) out.inboxPrefix = inboxPrefixOf(identity!);
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

/** Identities of the credentials dir besides the bot ids. */
export const CONTROL_IDENTITY = "control";
export const ADMIN_IDENTITY = "admin";

/** Where `npm start` keeps the configuration and credentials of the nats-server it starts (under INTELMQ_ROOT_DIR). */
export const LOCAL_AUTH_DIR = join("var", "lib", "nats-auth");

/**
 * The credentials dir: INTELMQ_NATS_CREDENTIALS_DIR else global nats_credentials_dir (relative to
 * INTELMQ_ROOT_DIR); else, for the server `npm start` started (`local`), the credentials it made.
 */
export function credentialsDir(config: RuntimeConfig | null | undefined, env: NodeJS.ProcessEnv = process.env, local = false): string | undefined {
  const dir = str(env.INTELMQ_NATS_CREDENTIALS_DIR) ?? str(globalSettings(config?.global).nats_credentials_dir);
  if (dir === undefined) return local ? join(rootDir(env), LOCAL_AUTH_DIR, "creds") : undefined;
  return isAbsolute(dir) ? dir : resolve(rootDir(env), dir);
}

/** `<dir>/<identity>.creds` when a credentials dir is configured (or `local`, see credentialsDir) and the file exists. */
export function credentialsFile(config: RuntimeConfig | null | undefined, identity: string, env: NodeJS.ProcessEnv = process.env, local = false): string | undefined {
  const dir = credentialsDir(config, env, local);
  if (dir === undefined) return undefined;
  const file = join(dir, `${identity}.creds`);
  return existsSync(file) ? file : undefined;
}

/** The reply-subject prefix of an identity (bot ids are [0-9a-zA-Z-]+, so no two share one). */
export function inboxPrefixOf(identity: string): string {
  return `_INBOX_${identity}`;
}

/** Queue stream settings from global queue_* and archive_* keys (unset keys keep the broker's defaults). */
export function queueSettings(config: RuntimeConfig | null | undefined): QueueSettings {
  const g = globalSettings(config?.global);
  const out: QueueSettings = {};
  const ms = (seconds: number | null | undefined) => (seconds == null ? undefined : Math.round(seconds * 1000));
  const set = <K extends keyof QueueSettings>(k: K, v: QueueSettings[K] | null | undefined) => { if (v != null) out[k] = v; };
  set("maxBytes", g.queue_max_bytes);
  set("maxMsgs", g.queue_max_msgs);
  set("duplicateWindowMs", ms(g.queue_duplicate_window));
  set("replicas", g.queue_replicas);
  set("ackWaitMs", ms(g.queue_ack_wait));
  set("archiveMaxAgeMs", ms(g.archive_max_age));
  set("archiveMaxBytes", g.archive_max_bytes);
  set("archive", g.queue_archive);
  return out;
}

/** Size limits of what the broker creates besides the queues, from global *_max_bytes keys (unset: the broker's defaults). */
export function brokerLimits(config: RuntimeConfig | null | undefined): BrokerLimits {
  const g = globalSettings(config?.global);
  const out: BrokerLimits = {};
  const set = (k: keyof BrokerLimits, v: number | null | undefined) => { if (v != null) out[k] = v; };
  set("dumpsMaxBytes", g.dumps_max_bytes);
  set("dumpsLargeMaxBytes", g.dumps_large_max_bytes);
  set("logsMaxBytes", g.logs_max_bytes);
  set("largeMaxBytes", g.large_max_bytes);
  set("archiveLargeMaxBytes", g.archive_large_max_bytes ?? g.archive_max_bytes);
  set("statusMaxBytes", g.status_max_bytes);
  set("deliveriesMaxBytes", g.deliveries_max_bytes);
  set("cacheMaxBytes", g.cache_max_bytes);
  // In a cluster the dumps, logs, caches and heartbeats are as safe as the queues.
  set("replicas", g.queue_replicas);
  return out;
}

/** A collector by its module name or group (for archiving: either says so). */
function isCollector(b: BotEntry): boolean {
  return b.module.startsWith("intelmq.bots.collectors.") || b.group?.toLowerCase() === "collector";
}

const GROUPS = ["collector", "parser", "expert", "output"];

/**
 * The queue a bot reads (IntelMQ's source_queue, default `<bot-id>-queue`); null for a
 * collector, by its group (any case), else by its module name (intelmq.bots.collectors.*).
 */
export function sourceQueueOf(config: RuntimeConfig, botId: string): string | null {
  const b = config.bots[botId];
  if (!b) return null;
  const group = b.group?.toLowerCase();
  const collector = group && GROUPS.includes(group) ? group === "collector" : /(?:^|\.)bots\.collectors\./.test(b.module);
  if (collector) return null;
  const sq = effectiveParams(config, botId, {}).source_queue;
  return typeof sq === "string" && sq !== "" ? sq : `${botId}-queue`;
}

/**
 * The limits of one queue: its readers' `queue_max_bytes`, `queue_max_msgs` and `queue_replicas`
 * parameters, the global ones as their defaults. Bots sharing a source queue with different
 * limits: the smallest holds, of replicas the most (`intelmqctl check` warns).
 */
export function queueLimitsFor(config: RuntimeConfig | null | undefined, queue: string): Pick<QueueSettings, "maxBytes" | "maxMsgs" | "replicas"> {
  const g = globalSettings(config?.global);
  let maxBytes = g.queue_max_bytes ?? undefined;
  let maxMsgs = g.queue_max_msgs ?? undefined;
  let replicas = g.queue_replicas ?? undefined;
  let first = true;
  for (const id of Object.keys(config?.bots ?? {})) {
    if (sourceQueueOf(config!, id) !== queue) continue;
    const own = queueLimitsSchema.parse(config!.bots[id]!.parameters);
    const b = own.queue_max_bytes ?? g.queue_max_bytes ?? undefined;
    const m = own.queue_max_msgs ?? g.queue_max_msgs ?? undefined;
    // Replicas: the most any reader asks for.
    const r = own.queue_replicas ?? g.queue_replicas ?? undefined;
    if (r !== undefined && (first || replicas === undefined || r > replicas)) replicas = r;
    // The smallest of the readers' limits (-1 and unset are none).
    if (first) { maxBytes = b; maxMsgs = m; first = false; continue; }
    if (b !== undefined && (maxBytes === undefined || b < maxBytes)) maxBytes = b;
    if (m !== undefined && m > 0 && (maxMsgs === undefined || maxMsgs <= 0 || m < maxMsgs)) maxMsgs = m;
  }
  const out: Pick<QueueSettings, "maxBytes" | "maxMsgs" | "replicas"> = {};
  if (maxBytes !== undefined) out.maxBytes = maxBytes;
  if (maxMsgs !== undefined) out.maxMsgs = maxMsgs;
  if (replicas !== undefined) out.replicas = replicas;
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
    if (!isCollector(b)) continue;
    for (const q of queueNames(b.parameters.destination_queues)) out.add(q);
  }
  return out;
}

/**
 * Settings of one queue: the global ones with its readers' limits. Archiving is decided by the configuration, not by who creates the
 * stream first: a server of 2.9 cannot add republish to an existing stream, so the parser that
 * creates its source queue before the collector starts must create it archived too.
 * queue_archive: unset archives the queues collectors feed, true every queue, false none.
 */
export function queueSettingsFor(config: RuntimeConfig | null | undefined, queue: string): QueueSettings {
  const s = { ...queueSettings(config), ...queueLimitsFor(config, queue) };
  if (s.archive === undefined && collectorQueues(config).has(queue)) s.archive = true;
  return s;
}
