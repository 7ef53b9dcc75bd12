// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The control plane's subjects and message shapes, shared by the bots, the control service and
 * intelmqctl. Requests and replies are JSON validated with these zod schemas.
 *
 *   intelmq.control.bot.<bot-id>.<verb>    every running instance of the bot answers (gathered)
 *   intelmq.control.host.<host>.<verb>     the control service of that host answers
 *   intelmq.control.botnet.<verb>          every control service answers (gathered, merged)
 */
import { z } from "zod";

export const CONTROL_PREFIX = "intelmq.control";
/** KV bucket of heartbeats: key `<bot-id>.<instance>`, value an InstanceStatus. */
export const STATUS_BUCKET = "status";
/** Seconds a heartbeat stays in the status bucket (the bucket's TTL). */
export const HEARTBEAT_TTL_S = 15;
/** Seconds between two heartbeats of a bot instance. */
export const HEARTBEAT_EVERY_S = 5;

/** Verbs a bot instance answers: stop = stop pulling but stay connected, start = resume. */
export const BotVerb = { status: "status", stop: "stop", start: "start", reload: "reload" } as const;
export type BotVerb = (typeof BotVerb)[keyof typeof BotVerb];

/** Verbs a control service answers for the bots it manages (processes). */
export const HostVerb = { status: "status", start: "start", stop: "stop", restart: "restart", reload: "reload", ping: "ping" } as const;
export type HostVerb = (typeof HostVerb)[keyof typeof HostVerb];

export const botSubject = (botId: string, verb: BotVerb): string => `${CONTROL_PREFIX}.bot.${botId}.${verb}`;
export const hostSubject = (host: string, verb: HostVerb): string => `${CONTROL_PREFIX}.host.${host}.${verb}`;
export const botnetSubject = (verb: HostVerb): string => `${CONTROL_PREFIX}.botnet.${verb}`;

/** IntelMQ's bot states, as intelmqctl prints them. */
export const BotStatus = z.enum(["running", "stopped", "disabled", "error", "unknown", "starting", "stopping"]);
export type BotStatus = z.infer<typeof BotStatus>;

/** Counters of one instance (IntelMQ's statistics). */
export const Counters = z.object({
  success: z.number().int(),
  failure: z.number().int(),
  /** messages sent per path */
  paths: z.record(z.string(), z.number().int()),
  /** inputs by time from entering the queue to their acknowledgement, ms (counts[i]: <= le[i]; the last: above all) */
  latency_ms: z.object({ le: z.array(z.number()), counts: z.array(z.number().int()), sum: z.number(), count: z.number().int() }).optional(),
});
export type Counters = z.infer<typeof Counters>;

/** One running bot instance: its heartbeat and its reply to bot.<id>.status. */
export const InstanceStatus = z.object({
  bot_id: z.string(),
  /** unique per process: `<host>-<pid>` */
  instance: z.string(),
  host: z.string(),
  pid: z.number().int(),
  /** running = pulling; paused = stopped by a bot-level stop, still connected */
  state: z.enum(["starting", "running", "paused", "stopping", "error"]),
  /** ISO time the instance started */
  started: z.string(),
  counters: Counters,
});
export type InstanceStatus = z.infer<typeof InstanceStatus>;

/** Request to a bot instance. */
export const BotRequest = z.object({}).passthrough();
export type BotRequest = z.infer<typeof BotRequest>;

/** Request to a control service: which bots (ids) it applies to; none or empty = all it manages. */
export const HostRequest = z.object({
  bots: z.array(z.string()).optional(),
  /** with start: also start disabled bots named explicitly (IntelMQ starts a disabled bot when named) */
  force: z.boolean().optional(),
});
export type HostRequest = z.infer<typeof HostRequest>;

/** One bot as a control service manages it. */
export const ManagedBot = z.object({
  bot_id: z.string(),
  status: BotStatus,
  enabled: z.boolean(),
  /** processes wanted (runtime.yaml `instances`, default 1) */
  instances_wanted: z.number().int(),
  instances: z.array(z.object({
    pid: z.number().int(),
    state: z.string(),
    restarts: z.number().int(),
    since: z.string(),
  })),
  /** last error text (e.g. why the process exited), if any */
  error: z.string().optional(),
});
export type ManagedBot = z.infer<typeof ManagedBot>;

/** Reply of a control service. */
export const HostReply = z.object({
  host: z.string(),
  bots: z.record(z.string(), ManagedBot),
});
export type HostReply = z.infer<typeof HostReply>;

/** Error reply of anyone: `{ error: { code, message } }` (code from shared/errors). */
export const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorReply = z.infer<typeof ErrorReply>;

/** Encode a request or reply. */
export function encodeJson(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v));
}

/** Decode and validate; throws a zod error on a malformed message. */
export function decodeJson<T>(schema: z.ZodType<T>, data: Uint8Array): T {
  const text = new TextDecoder().decode(data);
  return schema.parse(text.length ? JSON.parse(text) : {});
}
