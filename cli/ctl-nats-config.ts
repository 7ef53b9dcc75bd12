// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl nats-config --out DIR`: a nats-server configuration with one NKey user per bot id,
 * the control service and the operators, each allowed only the subjects it needs, and one
 * credentials file per user (a bare NKey seed). Permissions follow what the JetStream broker
 * sends (shared/broker/jetstream): a bot pulls only from its own queue's consumer, publishes only
 * to its destination queues, its own dumps, logs and status key, and answers only its own
 * control subjects. Re-running keeps the existing seeds, so only the permissions change.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newUserNkey, userNkeyFromSeed, claimsStream, claimsSubject, CONSUMER_NAME, DUMPS_STREAM, LARGE_ARCHIVE_BUCKET, LARGE_BUCKET, LARGE_DUMPS_BUCKET, LOGS_STREAM, ARCHIVE_STREAM, dumpSubject, logSubject, queueStream, queueSubject } from "../shared/broker/index.js";
import { ADMIN_IDENTITY, CONTROL_IDENTITY, inboxPrefixOf, queueSettingsFor, type RuntimeConfig } from "../shared/config/index.js";
import { CONTROL_PREFIX, STATUS_BUCKET } from "../shared/control-protocol/index.js";
import { queuesOf } from "./ctl-config.js";

/** The KV bucket of delivery attempts (shared/runtime/steps/attempts.ts): keys `<source queue>.<seq>`. */
const DELIVERIES_BUCKET = "deliveries";

/** Cache buckets of the modules that keep one (each bot's definition opens it by this name). */
const CACHE_BUCKETS: Record<string, (botId: string) => string[]> = {
  "intelmq.bots.experts.threshold.expert": (id) => [`threshold-${id}`],
  "intelmq.bots.experts.aggregate.expert": () => ["aggregate"],
  "intelmq.bots.experts.do_portal.expert": () => ["do_portal"],
  "intelmq.bots.experts.http.expert_content": () => ["http_content"],
  "intelmq.bots.experts.http.expert_status": () => ["http_status"],
  "intelmq.bots.experts.lookyloo.expert": () => ["lookyloo"],
  "intelmq.bots.experts.misp.expert": () => ["misp"],
  "intelmq.bots.experts.national_cert_contact_certat.expert": () => ["certat_contact"],
  "intelmq.bots.experts.rdap.expert": () => ["rdap"],
  "intelmq.bots.experts.ripe.expert": () => ["ripe"],
  "intelmq.bots.experts.splunk_saved_search.expert": () => ["splunk_saved_search"],
  "intelmq.bots.experts.trusted_introducer_lookup.expert": () => ["trusted_introducer"],
  "intelmq.bots.experts.tuency.expert": () => ["tuency"],
};

export interface Permissions {
  publish: string[];
  subscribe: string[];
  /** May answer requests it received (control replies) on their reply subjects. */
  allowResponses: boolean;
}

const API = "$JS.API";

/** Find, create and update a stream (the broker makes sure of every stream it uses). */
function streamApi(stream: string): string[] {
  return [`${API}.STREAM.INFO.${stream}`, `${API}.STREAM.CREATE.${stream}`, `${API}.STREAM.UPDATE.${stream}`];
}

/** Read single messages of a stream (KV get, object metadata). */
function readApi(stream: string): string[] {
  return [`${API}.STREAM.MSG.GET.${stream}`, `${API}.DIRECT.GET.${stream}`, `${API}.DIRECT.GET.${stream}.>`];
}

/** A queue's stream and its durable consumer, made sure of by senders and readers alike. */
function queueApi(queue: string): string[] {
  const s = queueStream(queue);
  return [
    ...streamApi(s),
    `${API}.CONSUMER.INFO.${s}.${CONSUMER_NAME}`,
    `${API}.CONSUMER.CREATE.${s}`,
    `${API}.CONSUMER.CREATE.${s}.${CONSUMER_NAME}`,
    `${API}.CONSUMER.CREATE.${s}.${CONSUMER_NAME}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${s}.${CONSUMER_NAME}`,
  ];
}

/** An object store bucket of large payloads: put, get (ordered consumer) and delete. */
function objectStoreApi(bucket: string): string[] {
  const s = `OBJ_${bucket}`;
  return [
    `$O.${bucket}.>`, ...streamApi(s), ...readApi(s), `${API}.STREAM.PURGE.${s}`,
    `${API}.CONSUMER.CREATE.${s}`, `${API}.CONSUMER.CREATE.${s}.>`, `${API}.CONSUMER.DELETE.${s}.>`,
    `${API}.CONSUMER.INFO.${s}.>`, `${API}.CONSUMER.MSG.NEXT.${s}.>`,
  ];
}

/** A KV bucket: made sure of and read; `keys`: the key patterns it may write. */
function kvApi(bucket: string, keys: string): string[] {
  const s = `KV_${bucket}`;
  return [...streamApi(s), ...readApi(s), `$KV.${bucket}.${keys}`];
}

/** The token of a queue name in the keys of the deliveries bucket (as attempts.ts writes them). */
function deliveriesToken(queue: string): string {
  return queue.replace(/[^-_a-zA-Z0-9]/g, "_");
}

/** Claim sets of the modules that keep one (the deduplicator's cache). */
const CLAIM_SETS: Record<string, string[]> = {
  "intelmq.bots.experts.deduplicator.expert": ["dedup"],
};

/** A claim set: made sure of, claimed in, and followed with an ordered consumer. */
function claimsApi(name: string): string[] {
  const s = claimsStream(name);
  return [
    claimsSubject(name), ...streamApi(s),
    `${API}.CONSUMER.CREATE.${s}`, `${API}.CONSUMER.CREATE.${s}.>`, `${API}.CONSUMER.DELETE.${s}.>`,
    `${API}.CONSUMER.INFO.${s}.>`, `${API}.CONSUMER.MSG.NEXT.${s}.>`,
  ];
}

/** What one bot may publish and subscribe to. */
export function botPermissions(config: RuntimeConfig, botId: string): Permissions {
  const { source, destinations } = queuesOf(config, botId);
  const pub = new Set<string>([`${API}.INFO`]);
  const add = (...subjects: string[]) => { for (const s of subjects) pub.add(s); };
  let archived = false;
  for (const q of destinations) {
    add(queueSubject(q), ...queueApi(q));
    if (queueSettingsFor(config, q).archive) archived = true;
  }
  if (source !== null) {
    const s = queueStream(source);
    add(
      ...queueApi(source),
      `${API}.CONSUMER.MSG.NEXT.${s}.${CONSUMER_NAME}`,
      `$JS.ACK.${s}.${CONSUMER_NAME}.>`,
      // Acked ghosts after a server crash: the reader purges up to the ack floor, or removes strays.
      `${API}.STREAM.PURGE.${s}`, `${API}.STREAM.MSG.DELETE.${s}`, ...readApi(s),
      `$KV.${DELIVERIES_BUCKET}.${deliveriesToken(source)}.>`,
    );
    if (queueSettingsFor(config, source).archive) archived = true;
  }
  // A collector's queues are archived unless queue_archive is false (the runtime says so itself).
  if (source === null && config.global["queue_archive"] !== false && String(config.global["queue_archive"]) !== "false") archived = true;
  if (archived) add(...streamApi(ARCHIVE_STREAM), ...objectStoreApi(LARGE_ARCHIVE_BUCKET));
  add(dumpSubject(botId), ...streamApi(DUMPS_STREAM), ...objectStoreApi(LARGE_DUMPS_BUCKET));
  add(logSubject(botId), ...streamApi(LOGS_STREAM));
  add(...objectStoreApi(LARGE_BUCKET));
  add(...kvApi(STATUS_BUCKET, `${botId}.*`));
  add(...streamApi(`KV_${DELIVERIES_BUCKET}`), ...readApi(`KV_${DELIVERIES_BUCKET}`));
  const module = config.bots[botId]?.module ?? "";
  for (const b of CACHE_BUCKETS[module]?.(botId) ?? []) add(...kvApi(b, ">"));
  for (const name of CLAIM_SETS[module] ?? []) add(...claimsApi(name));
  return {
    publish: [...pub],
    subscribe: [`${inboxPrefixOf(botId)}.>`, `${CONTROL_PREFIX}.bot.${botId}.*`],
    allowResponses: true,
  };
}

/** The control service: answers host and botnet requests, asks bots, reads their heartbeats. */
export function controlPermissions(): Permissions {
  return {
    publish: [`${API}.INFO`, `${CONTROL_PREFIX}.bot.>`, ...streamApi(`KV_${STATUS_BUCKET}`), ...readApi(`KV_${STATUS_BUCKET}`)],
    subscribe: [`${inboxPrefixOf(CONTROL_IDENTITY)}.>`, `${CONTROL_PREFIX}.host.>`, `${CONTROL_PREFIX}.botnet.>`],
    allowResponses: true,
  };
}

/** Operators and intelmqctl: everything. */
export function adminPermissions(): Permissions {
  return { publish: [">"], subscribe: [">"], allowResponses: false };
}

/** One user of the configuration: its identity (file name), NKey public key and seed. */
export interface NatsUser {
  identity: string;
  publicKey: string;
  seed: string;
  permissions: Permissions;
}

export interface NatsConfigOptions {
  /** JetStream's store dir in the configuration: nats-server 2.9 refuses to reload a configuration while -sd is given on its command line. */
  storeDir?: string;
  /** TLS of the server: its certificate and key, and the CA that clients' certificates must be signed by. */
  tls?: { cert: string; key: string; ca?: string; verify?: boolean };
}

const q = (s: string) => JSON.stringify(s);

/** The text of nats-server.conf for these users. */
export function serverConf(users: NatsUser[], opts: NatsConfigOptions = {}): string {
  const lines = [
    "# Written by `intelmqctl nats-config`: re-run it after changing runtime.yaml, then reload the",
    "# server (nats-server --signal reload). Listen address and port may be given on the command",
    "# line (-a, -p); so may the store dir (-sd), but then nats-server refuses to reload: give it to",
    "# nats-config with --store-dir instead.",
    opts.storeDir ? `jetstream { store_dir: ${q(opts.storeDir)} }` : "jetstream: enabled",
    "",
  ];
  if (opts.tls) {
    lines.push("tls {", `  cert_file: ${q(opts.tls.cert)}`, `  key_file: ${q(opts.tls.key)}`);
    if (opts.tls.ca) lines.push(`  ca_file: ${q(opts.tls.ca)}`);
    if (opts.tls.verify) lines.push("  verify: true");
    lines.push("}", "");
  }
  return `${lines.join("\n")}\n${authorizationConf(users)}`;
}

/**
 * The `authorization` block of nats-server.conf alone (DIR/authorization.conf): for a server whose
 * other settings come from elsewhere, which includes it (the NATS Helm chart's; the compose
 * cluster's deploy/nats/cluster-n*.conf, by a path relative to themselves).
 */
export function authorizationConf(users: NatsUser[]): string {
  const lines = ["authorization {", "  users: ["];
  for (const u of users) {
    const p = u.permissions;
    lines.push(`    # ${u.identity}`, "    {", `      nkey: ${u.publicKey}`, "      permissions: {");
    lines.push(`        publish: { allow: [${p.publish.map(q).join(", ")}] }`);
    lines.push(`        subscribe: { allow: [${p.subscribe.map(q).join(", ")}] }`);
    if (p.allowResponses) lines.push("        allow_responses: true");
    lines.push("      }", "    }");
  }
  lines.push("  ]", "}", "");
  return lines.join("\n");
}

/** A user's key: the one of its existing credentials file (re-runs keep each identity's key), else a new one. */
function userOf(identity: string, permissions: Permissions, credsDir: string): NatsUser {
  let key = null;
  try { key = userNkeyFromSeed(readFileSync(join(credsDir, `${identity}.creds`), "utf8").trim()); } catch { /* none yet */ }
  key ??= newUserNkey();
  return { identity, publicKey: key.publicKey, seed: key.seed, permissions };
}

/** Write DIR/nats-server.conf, DIR/authorization.conf and DIR/creds/<identity>.creds (mode 0600); returns the users. */
export function writeNatsConfig(config: RuntimeConfig, dir: string, opts: NatsConfigOptions = {}): NatsUser[] {
  const credsDir = join(dir, "creds");
  mkdirSync(credsDir, { recursive: true, mode: 0o700 });
  const ids = Object.keys(config.bots).sort();
  for (const id of ids) {
    if (id === CONTROL_IDENTITY || id === ADMIN_IDENTITY) {
      throw new Error(`bot id ${q(id)} is the name of the ${id === CONTROL_IDENTITY ? "control service's" : "operators'"} credentials: rename the bot`);
    }
  }
  const users = [
    ...ids.map((id) => userOf(id, botPermissions(config, id), credsDir)),
    userOf(CONTROL_IDENTITY, controlPermissions(), credsDir),
    userOf(ADMIN_IDENTITY, adminPermissions(), credsDir),
  ];
  for (const u of users) writeSecret(join(credsDir, `${u.identity}.creds`), `${u.seed}\n`);
  // Credentials of bots no longer configured go: their users are gone from the server anyway.
  const keep = new Set(users.map((u) => `${u.identity}.creds`));
  for (const f of readdirSync(credsDir)) if (f.endsWith(".creds") && !keep.has(f)) rmSync(join(credsDir, f), { force: true });
  writeSecret(join(dir, "nats-server.conf"), serverConf(users, opts));
  writeSecret(join(dir, "authorization.conf"), authorizationConf(users));
  return users;
}

/** Write a file only its owner reads, replacing the old one at once (a reloading server never sees half a file). */
function writeSecret(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

