// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ Redis bridge output (ours): sends events into IntelMQ's Redis queues as an IntelMQ bot
 * sends them (LPUSH of IntelMQ's serialized message, "__type" included), so that an IntelMQ bot
 * reading such a queue takes them as from any IntelMQ bot. An input's events are pushed in one
 * server-side script with a marker of the input: a redelivered input is not pushed twice, and a
 * failure pushes nothing (the script runs atomically).
 */
import { Redis } from "ioredis";
import { z } from "zod";
import { defineBot, errorMessage, p, type BotContext, type Event, type InputRef, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  intelmq_queues: p.list().pipe(z.array(z.string().min(1)).min(1)).describe("IntelMQ Redis queues to push each event to (all of them, as IntelMQ's fan-out)"),
  destination_pipeline_host: z.string().default("127.0.0.1").describe("Host of IntelMQ's Redis (IntelMQ's global key of the same name)"),
  destination_pipeline_port: p.int().default(6379).describe("Port of IntelMQ's Redis"),
  destination_pipeline_db: p.int().default(2).describe("Database of IntelMQ's pipeline"),
  destination_pipeline_password: p.secret(z.string().nullable().default(null).describe("Password of IntelMQ's Redis")),
  delivered_marker_ttl: p.int().default(86_400).describe("Seconds the marker of a pushed input is kept (a redelivery within it is not pushed again)"),
}).strict();

export type Params = z.infer<typeof params>;

// KEYS: marker, queues...; ARGV[1] ttl, ARGV[2..] messages (oldest first, as IntelMQ's LPUSH one by one).
const PUSH_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) == false then return 0 end
for q = 2, #KEYS do
  for i = 2, #ARGV, 1000 do
    redis.call('LPUSH', KEYS[q], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
return 1`;

function create(prm: Params, ctx: BotContext): OutputImpl {
  const redis = new Redis({
    host: prm.destination_pipeline_host, port: prm.destination_pipeline_port, db: prm.destination_pipeline_db,
    password: prm.destination_pipeline_password ?? undefined, lazyConnect: true, maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  redis.on("error", (err) => ctx.log.debug({ err: errorMessage(err) }, "Redis connection error"));
  let pending: string[] = [];
  return {
    export(event: Event) {
      // IntelMQ's wire format: its serialize(), "__type" last, ASCII escapes.
      pending.push(event.serializeJson());
    },
    async flush(input: InputRef) {
      if (pending.length === 0) return;
      if (redis.status === "wait") await redis.connect();
      const marker = `intelmq-nats:bridge-delivered:${ctx.botId}:${input.key}`;
      const done = await redis.eval(PUSH_ONCE, 1 + prm.intelmq_queues.length, marker, ...prm.intelmq_queues, prm.delivered_marker_ttl, ...pending);
      if (done === 0) ctx.log.info(`Input ${input.key} was pushed before; not pushed again.`);
      pending = [];
    },
    discard() { pending = []; },
    async shutdown() { redis.disconnect(); },
  };
}

export default defineBot({
  kind: "output",
  name: "intelmq_redis_bridge",
  intelmq: "intelmq_nats.bots.outputs.intelmq_redis_bridge.output",
  description: "Push events into IntelMQ's Redis queues in IntelMQ's wire format",
  params,
  create,
});
