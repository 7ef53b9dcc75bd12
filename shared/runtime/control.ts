// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The bot side of the control plane: a bot process answers `intelmq.control.bot.<bot-id>.<verb>`
 * (status, stop = pause pulling, start = resume, reload) and heartbeats its InstanceStatus into
 * the status KV bucket, so that intelmqctl and the control services see every running instance.
 */
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { connectJetStream, type Broker, type JetStreamOptions, type KvStore, type Service } from "../broker/index.js";
import {
  BotVerb, CONTROL_PREFIX, HEARTBEAT_EVERY_S, HEARTBEAT_TTL_S, STATUS_BUCKET, encodeJson, type ErrorReply, type InstanceStatus,
} from "../control-protocol/index.js";
import { ErrorCode, errorMessage, hasCode } from "../errors/index.js";
import type { BotHandle, BotState } from "./handle.js";
import { createLogger } from "./logger.js";
import type { NatsSettings } from "../config/index.js";

/** The host name instances report: INTELMQ_HOST, else the machine's host name. */
export function instanceHost(env: NodeJS.ProcessEnv = process.env): string {
  const h = env.INTELMQ_HOST?.trim();
  return h ? h : hostname();
}

/** The engine's life state as an instance reports it. */
export function instanceState(s: BotState): InstanceStatus["state"] {
  switch (s) {
    case "running": return "running";
    case "paused": return "paused";
    case "starting": case "reloading": return "starting";
    case "stopping": case "stopped": return "stopping";
    case "error": return "error";
  }
}

/** NATS connection settings as shared/config's natsOptions() gives them. */
export type ConnectSettings = NatsSettings;

/**
 * Connect, retrying with backoff while the server is not up yet (bots and control services may
 * start before NATS). Gives up only when `cancelled()` says so (a stop signal), returning null.
 */
export async function connectWithRetry(nats: ConnectSettings, name: string, log: Logger, cancelled: () => boolean): Promise<Broker | null> {
  const opts: JetStreamOptions & Record<string, unknown> = { servers: nats.servers, name, limits: nats.limits };
  if (nats.user !== undefined) opts.user = nats.user;
  if (nats.pass !== undefined) opts.pass = nats.pass;
  if (nats.token !== undefined) opts.token = nats.token;
  // Not (yet) part of JetStreamOptions; passed along for a broker that understands them.
  if (nats.credsFile !== undefined) opts.credsFile = nats.credsFile;
  if (nats.inboxPrefix !== undefined) opts.inboxPrefix = nats.inboxPrefix;
  if (nats.tls !== undefined) opts.tls = nats.tls;
  let delay = 250;
  for (let attempt = 1; !cancelled(); attempt++) {
    try {
      return await connectJetStream(opts);
    } catch (err) {
      // A server that is too old or refuses our credentials will not get better by waiting.
      if (hasCode(err, ErrorCode.UnsupportedFeature) || hasCode(err, ErrorCode.ConfigurationError)) throw err;
      log.warn({ servers: nats.servers, attempt, retry_in_ms: delay, err: errorMessage(err) }, "NATS is not reachable yet, retrying");
      const until = Date.now() + delay;
      while (Date.now() < until && !cancelled()) await sleep(Math.min(100, until - Date.now()));
      delay = Math.min(delay * 2, 10_000);
    }
  }
  return null;
}

/**
 * Call `onGone` once the process whose pid is in INTELMQ_PARENT_PID is no longer our parent
 * (it died and we were re-parented): a bot or control service must not outlive its manager.
 * Returns a function that stops watching. Does nothing when the variable is not set.
 */
export function watchParent(onGone: () => void, env: NodeJS.ProcessEnv = process.env, everyMs = 1000): () => void {
  const want = Number(env.INTELMQ_PARENT_PID);
  if (!Number.isInteger(want) || want <= 0) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid !== want) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

export interface BotControlOptions {
  broker: Broker;
  handle: BotHandle;
  /** Re-read runtime.yaml and reload the bot (what SIGHUP does); throws when the file is unusable. */
  reload: () => Promise<void>;
  /** Default: handle.botId. */
  botId?: string;
  log?: Logger;
  /** Default: instanceHost(). */
  host?: string;
  /** Default: process.pid. */
  pid?: number;
  /** When the instance started; default now. */
  started?: Date;
  /** Milliseconds between heartbeats; default HEARTBEAT_EVERY_S. */
  heartbeatEveryMs?: number;
}

/** A bot instance's control endpoint and heartbeat. */
export interface BotControl {
  /** `<host>-<pid>` */
  readonly instance: string;
  /** Key in the status bucket: `<bot-id>.<instance>`. */
  readonly key: string;
  /** The instance's status right now. */
  status(): InstanceStatus;
  /** Write a heartbeat now (resolves once written or failed). */
  heartbeat(): Promise<void>;
  /** Resolves once the first heartbeat is written: the instance is up and visible. */
  readonly firstHeartbeat: Promise<void>;
  /** Stop answering and heartbeating and delete the heartbeat (clean exit). */
  close(): Promise<void>;
}

/** Serve the bot's control subject and start heartbeating. */
export async function startBotControl(opts: BotControlOptions): Promise<BotControl> {
  const { broker, handle } = opts;
  const botId = opts.botId ?? handle.botId;
  const host = opts.host ?? instanceHost();
  const pid = opts.pid ?? process.pid;
  const instance = `${host}-${pid}`;
  const key = `${botId}.${instance}`;
  const started = (opts.started ?? new Date()).toISOString();
  const log = opts.log ?? createLogger({ botId });
  let closed = false;
  let kv: KvStore | null = null;
  // Writes go one after another so that a late write never overwrites a newer state (or the delete).
  let chain: Promise<void> = Promise.resolve();
  let beaten!: () => void;
  const firstHeartbeat = new Promise<void>((r) => { beaten = r; });

  const status = (): InstanceStatus => {
    const s = handle.stats();
    return {
      bot_id: botId, instance, host, pid, state: instanceState(s.state), started,
      counters: { success: s.success, failure: s.failure, paths: { ...s.paths }, ...(s.latency_ms ? { latency_ms: s.latency_ms } : {}) },
    };
  };

  const bucket = async (): Promise<KvStore> => {
    kv ??= await broker.kv.open(STATUS_BUCKET, HEARTBEAT_TTL_S, { maxBytes: broker.limits.statusMaxBytes });
    return kv;
  };

  const enqueue = (op: () => Promise<void>): Promise<void> => {
    chain = chain.then(op).catch((err: unknown) => {
      // NATS may be down for a while; the next beat tries again.
      log.debug({ err: errorMessage(err) }, "heartbeat not written");
    });
    return chain;
  };

  const heartbeat = (): Promise<void> => {
    if (closed) return chain;
    return enqueue(async () => {
      if (closed) return;
      await (await bucket()).put(key, JSON.stringify(status()));
      beaten();
    });
  };

  const answer = async (verb: string): Promise<InstanceStatus | ErrorReply> => {
    switch (verb) {
      case BotVerb.status:
        return status();
      case BotVerb.stop:
        log.info("control: stop (pausing, staying connected)");
        await handle.pause();
        return status();
      case BotVerb.start:
        log.info("control: start (resuming)");
        await handle.resume();
        return status();
      case BotVerb.reload:
        log.info("control: reload");
        try {
          await opts.reload();
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          return { error: { code: typeof code === "string" ? code : ErrorCode.ConfigurationError, message: errorMessage(err) } };
        }
        return status();
      default:
        return { error: { code: ErrorCode.InvalidArgument, message: `unknown verb ${JSON.stringify(verb)} for a bot` } };
    }
  };

  const service: Service = await broker.control.serve(`${CONTROL_PREFIX}.bot.${botId}.*`, async (_data, subject) => {
    const verb = subject.slice(subject.lastIndexOf(".") + 1);
    return encodeJson(await answer(verb));
  });

  const onState = () => void heartbeat();
  handle.on("state", onState);
  const timer = setInterval(() => void heartbeat(), opts.heartbeatEveryMs ?? HEARTBEAT_EVERY_S * 1000);
  timer.unref();
  void heartbeat();

  return {
    instance,
    key,
    status,
    heartbeat,
    firstHeartbeat,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      handle.off("state", onState);
      await service.stop().catch(() => undefined);
      await enqueue(async () => {
        await (await bucket()).delete(key);
      });
    },
  };
}
