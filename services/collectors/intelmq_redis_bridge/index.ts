// SPDX-License-Identifier: AGPL-3.0-only
/**
 * IntelMQ Redis bridge collector (ours; IntelMQ has no such bot): takes the messages an IntelMQ
 * writes into one of its Redis queues, as the IntelMQ bot reading that queue would, and sends them
 * into our pipeline as they are: IntelMQ's Events stay Events, Reports stay Reports.
 *
 * IntelMQ's internal-queue semantics keep every message safe when either side crashes: a message
 * is moved atomically from "<queue>" into "<queue>-internal" (BRPOPLPUSH) and removed from there
 * only once the broker confirmed it (queued()). What a crash leaves in the internal list is sent
 * again at the next start under the same message id (the hash of its text), so the queue's
 * duplicate window stores it once.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { z } from "zod";
import {
  collectorParams, ConfigurationError, defineBot, errorMessage, messageFromDict, p, ReportStream,
  type BotContext, type CollectorImpl, type Event, type Message, type Report,
} from "../../../shared/sdk/index.js";

export const params = z.object({
  ...collectorParams,
  intelmq_queue: z.string().min(1).describe("The IntelMQ Redis queue to take messages from (e.g. nats-bridge-queue); its internal list is <queue>-internal"),
  source_pipeline_host: z.string().default("127.0.0.1").describe("Host of IntelMQ's Redis (IntelMQ's global key of the same name)"),
  source_pipeline_port: p.int().default(6379).describe("Port of IntelMQ's Redis"),
  source_pipeline_db: p.int().default(2).describe("Database of IntelMQ's pipeline"),
  source_pipeline_password: p.secret(z.string().nullable().default(null).describe("Password of IntelMQ's Redis")),
  max_in_flight: p.int().pipe(z.number().int().positive()).default(100)
    .describe("Messages taken from the queue and not yet confirmed by NATS at most (they wait in <queue>-internal)"),
}).strict();

export type Params = z.infer<typeof params>;

/** Where a message that is no IntelMQ message goes (kept in Redis, next to where it came from). */
export const failedList = (queue: string): string => `${queue}-bridge-failed`;

function create(prm: Params, ctx: BotContext): CollectorImpl {
  const queue = prm.intelmq_queue;
  const internal = `${queue}-internal`;
  const options = {
    host: prm.source_pipeline_host, port: prm.source_pipeline_port, db: prm.source_pipeline_db,
    password: prm.source_pipeline_password ?? undefined, lazyConnect: true, maxRetriesPerRequest: 3,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
  const redis = new Redis(options);
  // BRPOPLPUSH blocks its connection: a second one for it. A BRPOPLPUSH cut by a broken connection
  // fails instead of being sent again after the reconnect: Redis may have moved a message whose
  // answer was lost, and pump() then looks for it in the internal list.
  const blocking = new Redis({ ...options, autoResendUnfulfilledCommands: false });
  for (const r of [redis, blocking]) r.on("error", (err) => ctx.log.debug({ err: errorMessage(err) }, "Redis connection error"));
  const stream = new ReportStream<Event | Report>();
  const texts = new WeakMap<Message, string>();
  let inFlight = 0;
  /** Texts taken and not settled yet, with their number (IntelMQ may send the same text twice). */
  const taken = new Map<string, number>();
  let wake: (() => void) | null = null;
  const settle = (text: string) => {
    inFlight = Math.max(0, inFlight - 1);
    const n = (taken.get(text) ?? 0) - 1;
    if (n > 0) taken.set(text, n);
    else taken.delete(text);
    wake?.();
  };

  /** One text from the internal list into the stream; a text that is no IntelMQ message is set aside. */
  async function take(text: string): Promise<void> {
    let msg: Event | Report;
    try {
      msg = messageFromDict(JSON.parse(text) as Record<string, unknown>, { harmonization: ctx.harmonization });
    } catch (err) {
      ctx.log.error({ err: errorMessage(err) }, `A message of ${queue} is no valid IntelMQ message; moved to ${failedList(queue)}.`);
      await redis.multi().lpush(failedList(queue), text).lrem(internal, -1, text).exec();
      return;
    }
    texts.set(msg, text);
    inFlight++;
    taken.set(text, (taken.get(text) ?? 0) + 1);
    stream.push(msg, {
      queued: () => {
        // Confirmed by NATS: only now does it leave IntelMQ's internal queue.
        redis.lrem(internal, -1, text).then(() => settle(text), (err: unknown) => {
          ctx.log.warn({ err: errorMessage(err) }, "Could not remove a sent message from the internal queue; it is sent again at the next start and stored once.");
          settle(text);
        });
      },
      failed: () => settle(text),
    });
  }

  /** After a BRPOPLPUSH lost with its connection: what the internal list holds beyond the texts taken is taken now. */
  async function recover(): Promise<void> {
    const unsettled = new Map(taken);
    for (const text of (await redis.lrange(internal, 0, -1)).reverse()) {
      const n = unsettled.get(text) ?? 0;
      if (n > 0) unsettled.set(text, n - 1);
      else {
        ctx.log.info(`Taking a message left in ${internal} by a broken connection.`);
        await take(text);
      }
    }
  }

  async function pump(signal: AbortSignal): Promise<void> {
    if (redis.status === "wait") await redis.connect();
    if (blocking.status === "wait") await blocking.connect();
    // What a crash left (or a failed round): oldest first, the list's tail.
    const left = await redis.lrange(internal, 0, -1);
    if (left.length) ctx.log.info(`Sending again ${left.length} messages left in ${internal}.`);
    // A failed round may have left messages in the stream: they are all in the internal list too.
    stream.close(new Error("sent again from the internal queue"));
    inFlight = 0;
    taken.clear();
    for (const text of left.reverse()) await take(text);
    while (!signal.aborted) {
      while (inFlight >= prm.max_in_flight && !signal.aborted) await new Promise<void>((r) => { wake = r; });
      if (signal.aborted) break;
      let text: string | null;
      try {
        text = await blocking.brpoplpush(queue, internal, 1);
      } catch (err) {
        if (signal.aborted) break;
        // Only the command aborted by the reconnect (ioredis' AbortError) is recovered from here;
        // anything else fails the round, and the next round's pump reads the internal list anyway.
        if ((err as Error | null)?.name !== "AbortError") throw err;
        ctx.log.warn({ err: errorMessage(err) }, `The connection to Redis broke while taking from ${queue}; looking for a message it left in ${internal}.`);
        await recover();
        continue;
      }
      if (text !== null) await take(text);
    }
  }

  return {
    streaming: true,
    messageId: (m) => {
      const text = texts.get(m);
      return text === undefined ? undefined : createHash("sha256").update(text).digest("hex");
    },
    async *collect(signal) {
      const stop = new AbortController();
      const onAbort = () => { stop.abort(); wake?.(); };
      signal.addEventListener("abort", onAbort);
      if (signal.aborted) onAbort();
      let failure: { err: unknown } | null = null;
      const pumping = pump(stop.signal).catch((err: unknown) => { failure = { err }; stop.abort(); });
      try {
        yield* stream.drain(stop.signal);
        await pumping;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      if (failure) throw (failure as { err: unknown }).err;
    },
    queued: (m) => stream.queued(m),
    failed: (m, err) => stream.failed(m, err),
    async shutdown() {
      stream.close(new Error("the collector stopped"));
      redis.disconnect();
      blocking.disconnect();
    },
  };
}

export default defineBot({
  kind: "collector",
  name: "intelmq_redis_bridge",
  intelmq: "intelmq_nats.bots.collectors.intelmq_redis_bridge.collector",
  description: "Take IntelMQ's messages from one of its Redis queues (IntelMQ's internal-queue semantics) into our pipeline",
  params,
  create: (prm, ctx) => {
    if (!prm.intelmq_queue) throw new ConfigurationError("intelmq_queue", "is not set");
    return create(prm, ctx);
  },
});
