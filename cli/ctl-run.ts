// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmqctl run <bot-id>`: IntelMQ's debugging run. Without a sub-command the bot runs in the
 * foreground; `message get|pop|send` look at, take or feed its queues; `process` runs the bot's own
 * runtime once on a message from the command line or from its queue, publishing and dumping as
 * the bot does (unless --dryrun). Instances running elsewhere are paused while the queue is read.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryBroker, composeBroker, type Broker, type Delivery, type Subscription } from "../shared/broker/index.js";
import { botCommand, effectiveParams, getBot, queueSettingsFor, type RuntimeConfig } from "../shared/config/index.js";
import { decodeEnvelope, encodeEnvelope, messageFromDict } from "../shared/message/index.js";
import { createLogger, normaliseDestinationQueues, startBot } from "../shared/runtime/index.js";
import type { ControlClient } from "./ctl-control.js";
import { queuesOf } from "./ctl-config.js";
import { readableLogLine, readableLogs } from "./output.js";
import { loadModule } from "./registry.js";

export interface RunEnv {
  config(): RuntimeConfig;
  broker(): Promise<Broker>;
  control(): Promise<ControlClient>;
  /** A line of the run's text output. */
  print(line: string): void;
  /** How long `message get|pop` wait for a message (default: for ever, as IntelMQ); the API bounds it. */
  waitMs?: number;
  /** Where the bot's log lines go (default: INFO and DEBUG to stdout, the rest to stderr). */
  writeLog?: (text: string, toStdout: boolean) => void;
  /** Show the stacks of logged errors (else their one-line reason; at DEBUG they show anyway). */
  verbose?: boolean;
}

export type RunAction =
  | { kind: "foreground"; level?: string }
  | { kind: "console" }
  | { kind: "message"; action: "get" | "pop" | "send"; msg?: string }
  | { kind: "process"; msg?: string; dryrun: boolean; show: boolean; level?: string };

/** JSON for people: four spaces, sorted keys, as IntelMQ's debugger prints. */
function pretty(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === "object") return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])]));
    return x;
  };
  return JSON.stringify(sort(v), null, 4);
}

class RunError extends Error {
  override readonly name = "RunError";
}

/**
 * A message from the command line: JSON, or the path of a file holding it. Without __type it is
 * a Report for parsers and an Event otherwise; it must pass the harmonization.
 */
function messageArg(text: string, group: string | null): Record<string, unknown> {
  let raw = text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    if (!existsSync(text)) throw new RunError(`Message can not be parsed from JSON: ${(err as Error).message}`);
    raw = readFileSync(text, "utf8");
    try {
      parsed = JSON.parse(raw);
    } catch (err2) {
      throw new RunError(`Message can not be parsed from JSON: ${(err2 as Error).message}`);
    }
  }
  try {
    const m = messageFromDict(parsed as Record<string, unknown>, { defaultType: group === "Parser" ? "Report" : "Event" });
    return m.serialize();
  } catch (err) {
    throw new RunError(`Message can not be parsed from JSON: ${(err as Error).message}`);
  }
}

/** The events of a delivery (an envelope), as flat dicts with __type. */
function eventsOf(d: { data: Uint8Array; headers: Readonly<Record<string, string>> }): Record<string, unknown>[] {
  return decodeEnvelope(d.data, d.headers["Content-Type"]);
}

function withoutType(m: Record<string, unknown>): Record<string, unknown> {
  const { __type: _t, ...rest } = m;
  return rest;
}

/** The reason of a dump: the last line of its traceback. */
function reason(traceback: string[] | string): string {
  const lines = [traceback].flat().flatMap((l) => l.split("\n")).map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? "";
}

/** Run the action; resolves with the exit code. */
export async function runBotCmd(env: RunEnv, botId: string, action: RunAction): Promise<number> {
  const config = env.config();
  const entry = getBot(config, botId);
  if (action.kind === "foreground") return foreground(botId, action.level, !!env.verbose);
  if (action.kind === "console") {
    env.print("Can't run console: bots are Node.js programs. Run `node --inspect bin/intelmq-bot.mjs " + botId + "` and attach a debugger instead.");
    return 1;
  }
  const group = entry.group;
  const { source } = queuesOf(config, botId);
  try {
    if (action.kind === "message") return await message(env, botId, group, source, action);
    return await processOnce(env, botId, group, source, action);
  } catch (err) {
    if (err instanceof RunError) {
      env.print(err.message);
      return 1;
    }
    throw err;
  }
}

/** The bot as its own process in the foreground, its log on the terminal as IntelMQ prints it. */
function foreground(botId: string, level: string | undefined, verbose: boolean): Promise<number> {
  const { command, args, env: defaults } = botCommand(botId);
  const env = { ...defaults, ...process.env, ...(level ? { INTELMQ_LOGGING_LEVEL: level.toUpperCase() } : {}) };
  const child = spawn(command, args, { env, stdio: ["inherit", "inherit", "pipe"] });
  const stacks = verbose || level?.toUpperCase() === "DEBUG";
  createInterface({ input: child.stderr! }).on("line", (line) => {
    const out = readableLogLine(line, { verbose: stacks, name: botId });
    if (out !== null) process.stderr.write(`${out}\n`);
  });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => child.on("exit", (code, signal) => {
    for (const [s, h] of handlers) process.off(s, h);
    resolve(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1));
  }));
}

/** Pause the bot's running instances while `fn` reads its queue, then resume them. */
async function paused<T>(env: RunEnv, botId: string, fn: () => Promise<T>): Promise<T> {
  const control = await env.control();
  const running = (await control.instances(botId)).filter((i) => i.state === "running");
  if (running.length > 0) {
    env.print(`Pausing ${running.length} running instance(s) of ${botId} meanwhile.`);
    await control.tellInstances(botId, "stop");
  }
  try {
    return await fn();
  } finally {
    if (running.length > 0) await control.tellInstances(botId, "start");
  }
}

/** Take the next delivery of a queue, waiting for one to arrive (up to waitMs). */
async function takeOne(broker: Broker, queue: string, waitMs?: number): Promise<Delivery> {
  const sub = await broker.queues.consume(queue, { maxInFlight: 1 });
  let timer: NodeJS.Timeout | undefined;
  try {
    const next = sub[Symbol.asyncIterator]().next();
    const r = waitMs === undefined ? await next : await Promise.race([
      next, new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), waitMs); }),
    ]);
    if (r === null) throw new RunError(`No message arrived in ${queue} within ${Math.round(waitMs! / 1000)} s.`);
    if (r.done) throw new RunError(`The queue ${queue} was closed.`);
    return r.value;
  } finally {
    clearTimeout(timer);
    await sub.stop();
  }
}

async function message(env: RunEnv, botId: string, group: string | null, source: string | null,
  action: { action: "get" | "pop" | "send"; msg?: string }): Promise<number> {
  const broker = await env.broker();
  if (action.action === "send") {
    if (group === "Output") {
      env.print("Output bots can't send message.");
      return 1;
    }
    const dq = destinations(env.config(), botId);
    const queues = dq._default ?? [];
    if (queues.length === 0) {
      env.print("Bot has no destination queues.");
      return 1;
    }
    if (!action.msg) throw new RunError("Message missing!");
    const msg = messageArg(action.msg, group);
    const id = randomUUID();
    for (const q of queues) await broker.queues.publish(q, encodeEnvelope([msg]), { msgId: `run:${botId}:${id}:${q}` });
    env.print("Message sent to output pipelines.");
    return 0;
  }
  if (group === "Collector" || source === null) {
    env.print("Collector bots have no input queue.");
    return 1;
  }
  if (action.action === "get") {
    env.print("Waiting for a message to get...");
    const until = env.waitMs === undefined ? Infinity : Date.now() + env.waitMs;
    for (;;) {
      const m = await broker.queues.peek(source);
      if (m) {
        for (const e of eventsOf(m)) env.print(pretty(withoutType(e)));
        return 0;
      }
      if (Date.now() >= until) throw new RunError(`No message arrived in ${source} within ${Math.round(env.waitMs! / 1000)} s.`);
      await sleep(Math.min(1000, Math.max(0, until - Date.now())));
    }
  }
  env.print("Waiting for a message to pop...");
  return paused(env, botId, async () => {
    const d = await takeOne(broker, source, env.waitMs);
    for (const e of eventsOf(d)) env.print(pretty(withoutType(e)));
    await d.ack();
    return 0;
  });
}

function destinations(config: RuntimeConfig, botId: string): Record<string, string[]> {
  return normaliseDestinationQueues(effectiveParams(config, botId, {}).destination_queues) as Record<string, string[]>;
}

/**
 * The bot's own runtime on the real broker, for one input (run_mode scheduled): the same steps,
 * message ids and dumps as a running instance. From the command line (-m) the input comes from a
 * queue of its own in memory; --dryrun publishes, dumps and acknowledges nothing.
 */
async function processOnce(env: RunEnv, botId: string, group: string | null, source: string | null,
  action: { msg?: string; dryrun: boolean; show: boolean; level?: string }): Promise<number> {
  const config = env.config();
  const entry = getBot(config, botId);
  const inputMsg = action.msg !== undefined ? messageArg(action.msg, group) : null;
  if (inputMsg) env.print(" * Message from cli will be used when processing.");
  if (action.dryrun) env.print(" * Dryrun only, no message will be really sent through.");
  const def = await loadModule(entry.module);
  const params = effectiveParams(config, botId);
  const level = action.level?.toUpperCase() ?? (typeof params.logging_level === "string" ? params.logging_level.toUpperCase() : "INFO");
  // Log lines as IntelMQ's run prints them; a dry run dumps nothing, so it does not say it does.
  const destination = readableLogs({
    verbose: !!env.verbose || level === "DEBUG",
    name: botId,
    split: true,
    ...(env.writeLog ? { write: env.writeLog } : {}),
    rewrite: (e) => (action.dryrun && e.message === "Dumping message to dump file." ? { ...e, message: "DRYRUN: Message would be dumped now!" } : e),
  });
  const real = await env.broker();
  const local = new MemoryBroker();
  const cliQueue = `run-${botId}-${randomUUID()}`;
  if (inputMsg) await local.queues.publish(cliQueue, encodeEnvelope([inputMsg]));
  const fromCli = (q: string) => inputMsg !== null && q === cliQueue;
  const dry = action.dryrun;
  const broker = composeBroker(real, {
    queues: {
      ensure: (q, s) => (fromCli(q) ? local.queues.ensure(q, s) : dry ? Promise.resolve() : real.queues.ensure(q, s)),
      consume: async (q, o) => {
        if (fromCli(q)) return local.queues.consume(q, o);
        env.print("Waiting for a message to process...");
        return dry ? unacknowledged(await real.queues.consume(q, o), env) : real.queues.consume(q, o);
      },
      publish: (q, d, o) => (dry ? Promise.resolve() : real.queues.publish(q, d, o)),
    },
    dumps: { store: (e) => (dry ? Promise.resolve() : real.dumps.store(e)) },
  });
  const dumps: string[] = [];
  const work = async (): Promise<number> => {
    env.print("Processing...");
    const h = await startBot(def, {
      botId, broker,
      params: { ...params, logging_level: level, run_mode: "scheduled", ...(inputMsg ? { source_queue: cliQueue } : {}) },
      logger: createLogger({ botId, level, destination }),
      queueSettingsFor: (q) => queueSettingsFor(config, q),
      listeners: {
        output: (o) => {
          if (action.show) for (const m of o.messages) env.print(pretty(withoutType(m)));
          if (dry) for (let i = 0; i < o.messages.length; i++) env.print(`DRYRUN: Message would be sent now to '${o.path}'!`);
        },
        dump: (d) => { dumps.push(reason(d.traceback)); },
      },
    });
    const code = await h.done;
    if (dumps.length > 0) env.print(`${dumps.length} message(s) failed and ${dry ? "would be" : "were"} dumped: ${dumps.join("; ")}`);
    return code;
  };
  try {
    if (def.kind !== "collector" && !inputMsg && source === null) throw new RunError("Bot has no source queue.");
    return inputMsg || def.kind === "collector" ? await work() : await paused(env, botId, work);
  } finally {
    await local.close();
  }
}

/** A dry run's input goes back to its queue instead of being acknowledged. */
function unacknowledged(sub: Subscription, env: RunEnv): Subscription {
  return {
    stop: () => sub.stop(),
    async *[Symbol.asyncIterator]() {
      for await (const d of sub) {
        const copy: Delivery = {
          queue: d.queue, data: d.data, headers: d.headers, seq: d.seq, deliveryCount: d.deliveryCount,
          ack: async () => {
            env.print("DRYRUN: Message would be acknowledged now!");
            d.nak();
          },
          nak: (ms?: number) => d.nak(ms), term: () => d.term(), working: () => d.working(),
        };
        yield copy;
      }
    },
  };
}
