// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The keys of runtime.yaml's `global:` section, each declared once here (or, when it is a
 * parameter of the runtime or of bots, in shared/runtime's schemas): the types, the lists of
 * known keys and `intelmqctl check`'s validation derive from these schemas.
 *
 * - Ours (ownGlobalSchema): settings of the tools and of what they create on NATS. They are no
 *   bot parameters (a bot never sees them), and a wrong value refuses the whole file.
 * - IntelMQ's own machinery (intelmqGlobalSchema): its Redis/AMQP pipelines, statistics, log
 *   files, process manager. An IntelMQ file keeps them; they configure nothing here, so a wrong
 *   value is only a warning of `intelmqctl check`. Their families (INTELMQ_GLOBAL_FAMILIES) are
 *   accepted whole, as their members vary with IntelMQ's version and broker.
 */
import { z } from "zod";
import { p } from "./coerce.js";

const bytes = () => p.int().pipe(z.number().int().positive());
const seconds = () => p.number().pipe(z.number().positive());

/** Our keys under `global:`. Unset keys keep the defaults named in their descriptions. */
export const ownGlobalSchema = z.object({
  nats_servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).nullish().describe("NATS server URLs (NATS_URL overrides)"),
  nats_user: p.text().nullish().describe("NATS user (NATS_USER overrides)"),
  nats_password: p.text().nullish().describe("NATS password (NATS_PASSWORD overrides)"),
  nats_token: p.text().nullish().describe("NATS token (NATS_TOKEN overrides)"),
  nats_creds: z.string().nullish().describe("NATS credentials file (JWT + NKey)"),
  nats_credentials_dir: z.string().nullish().describe("folder of the credentials files `intelmqctl nats-config` writes: each bot connects with <bot-id>.creds, the control service with control.creds, intelmqctl with admin.creds (INTELMQ_NATS_CREDENTIALS_DIR overrides)"),
  nats_tls: p.bool().nullish().describe("TLS to NATS"),
  nats_tls_ca: z.string().nullish().describe("CA file of NATS' TLS"),
  nats_tls_cert: z.string().nullish().describe("client certificate for NATS' TLS"),
  nats_tls_key: z.string().nullish().describe("client key for NATS' TLS"),
  queue_max_bytes: bytes().nullish().describe("max_bytes of each queue stream, a bot's parameters override it for its source queue; a full queue refuses (discard new) and its producers wait (default 1 GiB)"),
  queue_max_msgs: p.int().pipe(z.number().int().refine((n) => n === -1 || n > 0, "must be positive, or -1 for no limit")).nullish()
    .describe("max_msgs of each queue stream, a bot's parameters override it for its source queue; pushes back like queue_max_bytes (default -1: no limit)"),
  queue_duplicate_window: seconds().nullish().describe("duplicate window of the queues, in seconds (default 120)"),
  queue_replicas: p.int().pipe(z.number().int().min(1).max(5)).nullish().describe("replicas of each queue stream, and of the dumps, logs, archive, KV buckets and object stores when created (default 1; 3 in a cluster); a bot's parameters override it for its source queue"),
  queue_ack_wait: seconds().nullish().describe("ack wait of the queues' consumers, in seconds (default 30)"),
  queue_archive: p.bool().nullish().describe("unset: archive the queues collectors feed; true: every queue; false: none"),
  archive_max_age: seconds().nullish().describe("how long the archive keeps a message, in seconds (default 7 days)"),
  archive_max_bytes: bytes().nullish().describe("size of the archive stream; the oldest go first (default 10 GiB)"),
  archive_large_max_bytes: bytes().nullish()
    .describe("size of the archive's payloads above max_payload (object store intelmq-large-archive); when full, new large payloads are not archived (default: archive_max_bytes)"),
  large_max_bytes: bytes().nullish().describe("size of the queues' payloads above max_payload (object store intelmq-large); when full, their producers wait (default 10 GiB)"),
  dumps_max_bytes: bytes().nullish().describe("size of the dumps stream; when full, bots wait to dump, nothing is dropped (default 1 GiB)"),
  dumps_large_max_bytes: bytes().nullish().describe("size of dumped messages above max_payload (object store intelmq-large-dumps); as dumps_max_bytes (default 1 GiB)"),
  logs_max_bytes: bytes().nullish().describe("size of the logs stream; the oldest lines go first (default 256 MiB)"),
  status_max_bytes: bytes().nullish().describe("size of the status bucket (heartbeats); the oldest go first (default 64 MiB)"),
  deliveries_max_bytes: bytes().nullish().describe("size of the deliveries bucket (attempts of redelivered messages); the oldest go first (default 64 MiB)"),
  cache_max_bytes: bytes().nullish().describe("size of each bot cache bucket (deduplicator, threshold) besides its TTL; the oldest go first (default 1 GiB)"),
  intelmqctl_control_wait: p.number().pipe(z.number().min(0)).nullish().describe("how long intelmqctl waits for replies of bots and control services, in seconds (default 0.5)"),
  intelmqctl_action_timeout: p.number().pipe(z.number().min(0)).nullish().describe("how long intelmqctl waits for a start or stop, in seconds (default 60)"),
  api_listen: z.string().min(1).nullish().describe("host:port the API (intelmq-api) listens on; INTELMQ_API_LISTEN overrides (default 127.0.0.1:8080)"),
  api_session_duration: seconds().nullish().describe("seconds an API session lasts without use (default 86400, as intelmq-api)"),
  api_allowed_path: z.string().min(1).nullish().describe("the folder the API's /config may read (default var/lib/bots/ under the root)"),
  api_allow_origins: z.array(z.string()).nullish().describe("origins the API allows (CORS), as intelmq-api's allow_origins (default [\"*\"])"),
});

/** Our settings under `global:`, typed. */
export type GlobalSettings = z.infer<typeof ownGlobalSchema>;
export type OwnGlobalKey = keyof GlobalSettings;

/** Our keys that a bot's `parameters` may set for its source queue (the global value is their default). */
export const QUEUE_LIMIT_KEYS = ["queue_max_bytes", "queue_max_msgs", "queue_replicas"] as const satisfies readonly OwnGlobalKey[];
export const queueLimitsSchema = ownGlobalSchema.pick({ queue_max_bytes: true, queue_max_msgs: true, queue_replicas: true });

/** IntelMQ's global keys of its own machinery: kept, used by nothing here. */
export const intelmqGlobalSchema = z.object({
  process_manager: p.text().nullish().describe("IntelMQ: intelmq or supervisor"),
  instances_threads: p.int().nullish().describe("IntelMQ: threads per bot (AMQP only)"),
  extract_files: z.unknown().optional().describe("IntelMQ: what collectors extract from archives (typed by the collectors that use it)"),
  logging_handler: p.text().nullish().describe("IntelMQ: file or syslog"),
  logging_path: p.text().nullish().describe("IntelMQ: folder of the log files"),
  logging_syslog: z.union([p.text(), z.array(z.unknown())]).nullish().describe("IntelMQ: syslog socket or [host, port]"),
  logging_max_size: p.int().nullish().describe("IntelMQ: rotate logs at this size"),
  logging_max_copies: p.int().nullish().describe("IntelMQ: rotated logs kept"),
  source_pipeline_broker: p.text().nullish().describe("IntelMQ: redis, amqp or pythonlist"),
  source_pipeline_host: p.text().nullish(),
  source_pipeline_port: p.int().nullish(),
  source_pipeline_db: p.int().nullish(),
  source_pipeline_password: p.text().nullish(),
  source_pipeline_socket_timeout: p.number().nullish(),
  source_pipeline_username: p.text().nullish(),
  source_pipeline_amqp_virtual_host: p.text().nullish(),
  source_pipeline_ssl: p.bool().nullish(),
  source_pipeline_amqp_exchange: p.text().nullish(),
  destination_pipeline_broker: p.text().nullish().describe("IntelMQ: redis, amqp or pythonlist"),
  destination_pipeline_host: p.text().nullish(),
  destination_pipeline_port: p.int().nullish(),
  destination_pipeline_db: p.int().nullish(),
  destination_pipeline_password: p.text().nullish(),
  destination_pipeline_socket_timeout: p.number().nullish(),
  destination_pipeline_username: p.text().nullish(),
  destination_pipeline_amqp_virtual_host: p.text().nullish(),
  destination_pipeline_ssl: p.bool().nullish(),
  destination_pipeline_amqp_exchange: p.text().nullish(),
  statistics_host: p.text().nullish(),
  statistics_port: p.int().nullish(),
  statistics_database: p.int().nullish(),
  statistics_password: p.text().nullish(),
  intelmqctl_rabbitmq_monitoring_url: p.text().nullish(),
  intelmqctl_check_orphaned_queues_ignore: p.list().nullish().describe("queues `intelmqctl check` does not report as orphaned"),
});

/** Prefixes of IntelMQ's key families (logging, pipelines, statistics, intelmqctl, HTTP and Redis cache mixins). */
export const INTELMQ_GLOBAL_FAMILIES = [
  "logging_", "source_pipeline_", "destination_pipeline_", "statistics_", "intelmqctl_", "http_", "redis_cache_",
] as const;

/** Our keys under `global:`. */
export const OWN_GLOBAL_KEYS: readonly OwnGlobalKey[] = Object.keys(ownGlobalSchema.shape) as OwnGlobalKey[];
const OWN = new Set<string>(OWN_GLOBAL_KEYS);
const INTELMQ = new Set<string>(Object.keys(intelmqGlobalSchema.shape));
/** Prefixes of our keys: an undeclared key with one of them is most likely a typo. */
const OWN_PREFIXES = [...new Set(OWN_GLOBAL_KEYS.map((k) => `${k.split("_")[0]!}_`))];

/** One of our keys under `global:` (no bot parameter). */
export function isOwnGlobalKey(key: string): boolean {
  return OWN.has(key);
}

/** One of IntelMQ's global keys of its own machinery, or of its key families. */
export function isIntelmqGlobalKey(key: string): boolean {
  return INTELMQ.has(key) || INTELMQ_GLOBAL_FAMILIES.some((f) => key.startsWith(f));
}

/** Our settings of a `global:` section, typed and coerced (runtime.yaml was validated when loaded). */
export function globalSettings(global: Record<string, unknown> | null | undefined): GlobalSettings {
  if (!global) return {};
  const own: Record<string, unknown> = {};
  for (const k of OWN_GLOBAL_KEYS) if (global[k] !== undefined) own[k] = global[k];
  return ownGlobalSchema.parse(own);
}

/**
 * What `intelmqctl check` says of a `global:` section beyond what loading refuses: IntelMQ's
 * keys with values IntelMQ would not take, and undeclared keys that look like ours.
 * `known(key)`: keys that the runtime or a bot declares (they are checked per bot).
 */
export function checkGlobal(global: Record<string, unknown>, known: (key: string) => boolean): string[] {
  const out: string[] = [];
  const r = intelmqGlobalSchema.safeParse(global);
  if (!r.success) {
    for (const i of r.error.issues) out.push(`global: IntelMQ's key ${JSON.stringify(i.path.map(String).join("."))}: ${i.message} (not used here).`);
  }
  for (const k of Object.keys(global)) {
    if (OWN.has(k) || INTELMQ.has(k) || known(k)) continue;
    if (OWN_PREFIXES.some((pre) => k.startsWith(pre)) && !isIntelmqGlobalKey(k)) {
      const like = OWN_GLOBAL_KEYS.filter((o) => o.split("_")[0] === k.split("_")[0]);
      out.push(`global: unknown key ${JSON.stringify(k)} (ours with this prefix: ${like.join(", ")}).`);
    }
  }
  return out;
}
