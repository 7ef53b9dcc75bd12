// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Redis output: LPUSHes each event as JSON to a Redis list (IntelMQ's intelmq.bots.outputs.redis.output).
 * An input's events are pushed in one server-side script together with a marker key of the input:
 * the script pushes nothing when the marker exists, so a retried or redelivered input is not
 * pushed twice, and a failure leaves nothing half-pushed (a script runs atomically).
 */
import { Redis } from "ioredis";
import { ConfigurationError, defineBot, p, z, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  redis_db: p.int().default(2).describe("Database number"),
  redis_password: p.secret(z.string().nullable().default(null).describe("Password (AUTH)")),
  redis_queue: z.string().nullable().default(null).describe("The list to LPUSH the events to (required)"),
  redis_server_ip: z.string().default("127.0.0.1").describe("Host"),
  redis_server_port: p.int().default(6379).describe("Port"),
  redis_timeout: p.int().default(5000).describe("Timeout of a command in milliseconds"),
  hierarchical_output: p.bool().default(false).describe("Nest fields at their dots"),
  with_type: p.bool().default(true).describe("Include \"__type\": \"Event\""),
  delivered_marker_ttl: p.int().default(86_400)
    .describe("Seconds a marker of a pushed input is kept, so that a redelivery is not pushed again (our addition)"),
}).strict();

export type Params = z.infer<typeof params>;

// KEYS[1] list, KEYS[2] marker; ARGV[1] marker ttl, ARGV[2..] events. LPUSH in slices: Lua's unpack has a stack limit.
const PUSH_ONCE = `
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[1])) == false then return -1 end
local n = 0
for i = 2, #ARGV, 500 do
  n = redis.call('LPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
return n`;

function create(prm: Params, ctx: BotContext): OutputImpl {
  if (!prm.redis_queue) throw new ConfigurationError("redis_queue", "is not set");
  const queue = prm.redis_queue;
  const redis = new Redis({
    host: prm.redis_server_ip, port: prm.redis_server_port, db: prm.redis_db, password: prm.redis_password ?? undefined,
    commandTimeout: prm.redis_timeout, connectTimeout: prm.redis_timeout,
    // Commands fail at once while disconnected (the runtime retries the flush); reconnecting goes on meanwhile.
    enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  redis.on("error", (err) => ctx.log.debug({ err }, "Redis connection error"));
  redis.on("ready", () => ctx.log.info(`Connected to Redis at ${prm.redis_server_ip}:${prm.redis_server_port}.`));
  let pending: string[] = [];
  let connected: Promise<void> | null = null;
  const ready = async () => {
    if (redis.status === "ready") return;
    if (redis.status === "wait" || redis.status === "end") connected ??= redis.connect().finally(() => { connected = null; });
    if (connected) await connected;
    if ((redis.status as string) !== "ready") throw new Error(`Redis ${prm.redis_server_ip}:${prm.redis_server_port} is not connected (${redis.status})`);
  };
  return {
    export(event: Event) {
      pending.push(event.toJson({ hierarchical: prm.hierarchical_output, withType: prm.with_type }));
    },
    async flush(input: InputRef) {
      await ready();
      const n = await redis.eval(PUSH_ONCE, 2, queue, `${queue}:intelmq-nats-delivered:${input.key}`, prm.delivered_marker_ttl, ...pending);
      if (n === -1) ctx.log.info(`Input ${input.key} was pushed before; not pushed again.`);
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() { redis.disconnect(); },
  };
}

export default defineBot({
  kind: "output",
  name: "redis",
  intelmq: "intelmq.bots.outputs.redis.output",
  description: "LPUSH events as JSON to a Redis list",
  params,
  create,
});
