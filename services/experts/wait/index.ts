// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Wait expert: holds each event for sleep_time seconds, or until a Redis list (another
 * pipeline's queue) is down to queue_size items, then forwards it (IntelMQ's experts.wait).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { z } from "zod";
import { defineBot, p } from "../../../shared/sdk/index.js";

export const params = z.object({
  sleep_time: p.number().pipe(z.number().min(0)).nullable().default(null)
    .describe("Seconds to wait before forwarding each event (used when queue_name is not set)"),
  queue_name: z.string().nullable().default(null)
    .describe("Redis list to watch: each event waits until the list has at most queue_size items"),
  queue_size: p.int().pipe(z.number().int().min(0)).default(0).describe("Largest length of the list at which events go on"),
  queue_polling_interval: p.number().pipe(z.number().positive()).default(0.05).describe("Seconds between two looks at the list's length"),
  queue_host: z.string().default("localhost").describe("Redis host"),
  queue_port: p.int().default(6379).describe("Redis port"),
  queue_db: p.int().default(2).describe("Redis database number"),
  queue_password: p.secret(z.string()).nullable().default(null).describe("Redis password"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "wait",
  intelmq: "intelmq.bots.experts.wait.expert",
  description: "Forwards each event after sleep_time seconds, or once a Redis list is short enough",
  params,
  create: (prm, ctx) => {
    const mode = prm.queue_name ? "queue" : prm.sleep_time ? "sleep" : "dummy";
    ctx.log.debug(`Wait mode is ${mode}.`);
    const redis = mode === "queue"
      ? new Redis({
        host: prm.queue_host, port: prm.queue_port, db: prm.queue_db, password: prm.queue_password ?? undefined,
        lazyConnect: true,
        // a failing command fails the message (the runtime retries it) instead of waiting for a reconnect
        maxRetriesPerRequest: 1, enableOfflineQueue: true,
      })
      : null;
    redis?.on("error", (err: Error) => ctx.log.warn({ err }, "Redis connection problem."));
    const pollMs = prm.queue_polling_interval * 1000;
    return {
      async process(event) {
        if (redis) {
          while ((await redis.llen(prm.queue_name!)) > prm.queue_size) await sleep(pollMs);
        } else if (mode === "sleep") {
          await sleep(prm.sleep_time! * 1000);
        }
        return event;
      },
      async shutdown() {
        if (redis) await redis.quit().catch(() => redis.disconnect());
      },
    };
  },
});
