// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Aggregate expert: counts events that agree in `fields` over `timespan` and sends one event per
 * group that reached `threshold` (IntelMQ's experts.aggregate). The groups live in the KV bucket
 * "aggregate" (IntelMQ: Redis hashes), so they survive restarts and are shared by instances.
 */
import { z } from "zod";
import { defineBot, p, parseRelative, type BotContext, type Event, type EventMeta, type ExpertImpl, type KvStore } from "../../../shared/sdk/index.js";

export const AGGREGATE_BUCKET = "aggregate";
const PREFIX = "aggregate.";
/** How long a sent group is kept, to send it again if its input comes back after a crash. */
const KEEP_SENT_MS = 10 * 60_000;

export const params = z.object({
  fields: p.list().default(["classification.type", "classification.identifier"])
    .describe("Fields (a list or a comma-separated string) whose values make a group"),
  threshold: p.int().default(10).describe("Events a group needs within timespan to be sent"),
  timespan: z.string().default("1 hour").describe("How long a group collects events, e.g. \"1 hour\", \"30 minutes\""),
  cleanup_interval: p.number().pipe(z.number().min(0)).default(10)
    .describe("Ours: seconds between two looks for groups whose timespan is over (IntelMQ: 10)"),
  redis_cache_host: z.string().default("127.0.0.1").describe("Accepted for IntelMQ compatibility and ignored: the groups live in the NATS KV bucket \"aggregate\""),
  redis_cache_port: p.int().default(6379).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_db: p.int().default(8).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_password: z.string().nullable().default(null).describe("Accepted for IntelMQ compatibility and ignored"),
  redis_cache_ttl: p.int().default(0).describe("Accepted for IntelMQ compatibility and ignored: groups are kept until their timespan is over"),
}).strict();

/** A group (IntelMQ's short keys): d first event (JSON), s start, f first and l last time, c count. */
interface Group {
  d: string; s: string; f: unknown; l: unknown; c: number;
  /** Set when sent: the input whose processing sent it, and when. */
  sentBy?: string; sentAt?: number;
}

class Aggregator implements ExpertImpl {
  #nextCleanup = 0;
  readonly #fields: Set<string>;
  readonly #spanMs: number;
  constructor(readonly prm: z.infer<typeof params>, readonly kv: KvStore, readonly ctx: BotContext) {
    this.#fields = new Set(prm.fields.map((f) => f.trim()));
    this.#spanMs = parseRelative(prm.timespan) * 60_000;
  }

  async process(event: Event, meta: EventMeta): Promise<Event[]> {
    const out = await this.#cleanup(meta);
    const id = PREFIX + event.hash({ filterKeys: this.#fields, filterType: "whitelist" });
    const time = event.get("time.source") ?? event.get("time.observation") ?? null;
    const count = Math.trunc(Number(event.get("extra.count") ?? 1));
    const fresh: Group = { d: event.toJson(), s: new Date().toISOString(), f: time, l: time, c: count };
    const raw = await this.kv.createOrGet(id, JSON.stringify(fresh));
    if (raw !== null) {
      const g = JSON.parse(raw) as Group;
      if (g.sentBy !== undefined) {
        // the group was sent meanwhile: this event starts a new one
        await this.kv.put(id, JSON.stringify(fresh));
      } else {
        g.l = time;
        g.c += count;
        await this.kv.put(id, JSON.stringify(g));
      }
    }
    return out;
  }

  /** The groups whose timespan is over: sent if they reached the threshold, else forgotten. */
  async #cleanup(meta: EventMeta): Promise<Event[]> {
    const now = Date.now();
    const out: Event[] = [];
    if (this.#nextCleanup > now && !meta.redelivered) return out;
    let sent = 0, ignored = 0, dropped = 0;
    for (const [key, raw] of await this.kv.entries(PREFIX)) {
      const g = JSON.parse(raw) as Group;
      if (g.sentBy !== undefined) {
        // a group this input sent before a crash is sent again; the others go after a while
        if (g.sentBy === meta.origin) out.push(this.#event(g));
        else if (now - (g.sentAt ?? 0) > KEEP_SENT_MS) await this.kv.delete(key);
        continue;
      }
      if (now <= Date.parse(g.s) + this.#spanMs) { ignored++; continue; }
      if (g.c >= this.prm.threshold) {
        // marked, not deleted: the group must not be lost before the event is published
        await this.kv.put(key, JSON.stringify({ ...g, sentBy: meta.origin, sentAt: now }));
        out.push(this.#event(g));
        sent++;
      } else {
        await this.kv.delete(key);
        dropped++;
      }
    }
    this.#nextCleanup = now + this.prm.cleanup_interval * 1000;
    this.ctx.log.debug(`Completed Cleanup. Messages sent: ${sent}, messages ignored: ${ignored}, messages dropped: ${dropped}.`);
    return out;
  }

  #event(g: Group): Event {
    const ev = this.ctx.newEvent();
    ev.update(JSON.parse(g.d) as Record<string, unknown>);
    ev.add("time.source", g.s, { overwrite: true });
    ev.add("extra.count", g.c, { overwrite: true });
    ev.add("extra.time_end", g.l, { overwrite: true });
    return ev;
  }
}

export default defineBot({
  kind: "expert",
  name: "aggregate",
  intelmq: "intelmq.bots.experts.aggregate.expert",
  description: "Aggregates events agreeing in some fields over a timespan into one event with extra.count",
  params,
  create: async (prm, ctx) => {
    parseRelative(prm.timespan);
    // no TTL: a group is kept until its timespan is over and it was sent or dropped
    return new Aggregator(prm, await ctx.cache(AGGREGATE_BUCKET, 0), ctx);
  },
});
