// SPDX-License-Identifier: AGPL-3.0-only
/** What the runtime's tests share: small bots, a clock the test moves, a broker that records. */
import { z } from "zod";
import { BrokerUnavailableError, InvalidValue } from "../errors/index.js";
import { MemoryBroker, type Broker, type Delivery, type Subscription } from "../broker/index.js";
import { decodeEnvelope, type Event, type Report } from "../message/index.js";
import { createLogger, defineBot, startBot, type BotHandle, type SettledInfo, type StartBotOptions, parserParams } from "./index.js";
import type { Clock } from "./util.js";
import { tempDir } from "../../test/helpers/tmp.js";

/** A clock that moves only when the test fires it; it records every wait the runtime asks for. */
export class FakeClock implements Clock {
  /** Every wait asked for, in ms, in order. */
  readonly requested: number[] = [];
  readonly #timers = new Set<{ ms: number; fn: () => void }>();
  after(ms: number, fn: () => void): () => void {
    const t = { ms, fn };
    this.requested.push(ms);
    this.#timers.add(t);
    return () => { this.#timers.delete(t); };
  }
  /** The waits in progress (ms). */
  get pending(): number[] { return [...this.#timers].map((t) => t.ms); }
  /** End every wait in progress. */
  fire(): void {
    const due = [...this.#timers];
    this.#timers.clear();
    for (const t of due) t.fn();
  }
}

/** Let the event loop go round: whatever the runtime would do next without a timer, it has done. */
export async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** INTELMQ_ROOT_DIR of a bot that is not in testing mode (it creates var/lib/bots/<id>). */
export const scratch = () => tempDir("imq-runner-");

/**
 * Run `body` with a memory broker and a `start` for bots on it (not in testing mode, quiet, in a
 * scratch root); whatever happens, those bots are stopped and the broker closed.
 */
export async function onMemory(body: (broker: MemoryBroker, start: (o: Omit<StartBotOptions, "broker" | "logger">) => Promise<BotHandle>) => Promise<void>): Promise<void> {
  const broker = new MemoryBroker();
  const started: BotHandle[] = [];
  const start = async (o: Omit<StartBotOptions, "broker" | "logger">): Promise<BotHandle> => {
    const h = await startBot({ rootDir: scratch(), ...o, params: { logging_level: "CRITICAL", ...o.params }, broker, logger: log });
    started.push(h);
    return h;
  };
  try {
    await body(broker, start);
  } finally {
    for (const h of started) await h.stop();
    await broker.close();
  }
}

export const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "CRITICAL" });
export const OBS = "2015-01-01T00:00:00+00:00";
export const ev = (extra: Record<string, unknown> = {}) => ({ __type: "Event", "time.observation": OBS, "source.ip": "192.0.2.1", ...extra });
export const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
export const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

/** Passes events on; feed.code picks a path, "fail" throws, "fail-N" throws N times per event. */
export function makeExpert(counter = { calls: 0, shutdowns: 0 }) {
  const failures = new Map<string, number>();
  return defineBot({
    kind: "expert", name: "test", intelmq: "test.expert", description: "test",
    params: z.object({ tag: z.string().default("") }).strict(),
    create: (params) => ({
      process(e: Event) {
        counter.calls++;
        const code = e.get("feed.code") as string | undefined;
        if (code === "fail") throw new Error("always failing");
        const m = code?.match(/^fail-(\d+)$/);
        if (m) {
          const key = String(e.get("source.ip"));
          const n = failures.get(key) ?? 0;
          failures.set(key, n + 1);
          if (n < Number(m[1])) throw new Error("failing for now");
        }
        if (code === "invalid") throw new InvalidValue("source.asn", -1);
        if (params.tag) e.add("extra.tag", params.tag, { overwrite: true });
        if (code === "permissive") return { path: "nowhere", msg: e, permissive: true };
        if (code && !code.startsWith("fail")) return { path: code, msg: e };
        return e;
      },
      shutdown() { counter.shutdowns++; },
    }),
  });
}

/** A MemoryBroker that records publishes and can fail them or lose acks. */
export class RecordingBroker extends MemoryBroker {
  ids: { queue: string; id: string | undefined }[] = [];
  down = false;
  failedPublishes = 0;
  loseAck: ((d: Delivery) => boolean) | null = null;
  readonly #publish = this.queues.publish.bind(this.queues);
  readonly #consume = this.queues.consume.bind(this.queues);
  constructor() {
    super();
    this.queues.publish = (queue, data, opts) => this.#recordPublish(queue, data, opts);
    this.queues.consume = (queue, opts) => this.#wrapConsume(queue, opts);
  }
  async #recordPublish(queue: string, data: Uint8Array, opts?: { msgId?: string }): Promise<void> {
    if (this.down && !queue.endsWith("-queue")) {
      this.failedPublishes++;
      throw new BrokerUnavailableError("down for the test");
    }
    if (opts?.msgId) this.ids.push({ queue, id: opts.msgId });
    return this.#publish(queue, data, opts);
  }
  async #wrapConsume(queue: string, opts?: { maxInFlight?: number }): Promise<Subscription> {
    const sub = await this.#consume(queue, opts);
    const self = this;
    return {
      stop: () => sub.stop(),
      async *[Symbol.asyncIterator]() {
        for await (const d of sub) {
          const lose = self.loseAck;
          if (!lose) { yield d; continue; }
          yield { ...d, queue: d.queue, data: d.data, headers: d.headers, seq: d.seq, deliveryCount: d.deliveryCount,
            nak: (ms?: number) => d.nak(ms), term: () => d.term(), working: () => d.working(),
            ack: async () => { if (lose(d)) throw new BrokerUnavailableError("ack lost"); return d.ack(); } };
        }
      },
    };
  }
}

export function nextSettled(h: BotHandle): Promise<SettledInfo> {
  return new Promise((resolve) => {
    const on = (s: SettledInfo) => { h.off("settled", on); resolve(s); };
    h.on("settled", on);
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what = "condition"): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function take(sub: Subscription, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  if (n === 0) return out;
  for await (const d of sub) {
    out.push(d);
    if (out.length === n) break;
  }
  return out;
}

export async function drain(broker: Broker, queue: string): Promise<Record<string, unknown>[]> {
  const n = await broker.queues.depth(queue);
  const sub = await broker.queues.consume(queue);
  const ds = await take(sub, n);
  await sub.stop();
  for (const d of ds) await d.ack();
  return ds.flatMap((d) => decodeEnvelope(d.data));
}


/** The default parse(): stripped non-empty lines; one event per line. */
export const lineParser = defineBot({
  kind: "parser", name: "lines", intelmq: "test.lines", description: "",
  params: z.object({ ...parserParams }).strict(),
  create: (_p, ctx) => ({
    parseLine(line: unknown, report: Report) {
      const e = ctx.newEvent(report);
      e.add("source.ip", String(line));
      e.add("classification.type", "other");
      return e;
    },
  }),
});
