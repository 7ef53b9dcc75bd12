// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Library mode (IntelMQ's process_message and test harness): a bot on an in-memory broker,
 * fed message by message, returning what it sent on each path and what it dumped.
 */
import type { Logger } from "pino";
import { encodeEnvelope } from "../message/index.js";
import type { Harmonization } from "../harmonization/index.js";
import { MemoryBroker, type DumpEntry } from "../broker/index.js";
import type { BotDefinition } from "./types.js";
import { BotRunner } from "./runner.js";
import type { SettledInfo } from "./consumer.js";
import type { OutputInfo } from "./steps/outbox.js";
import { createLogger } from "./logger.js";
import { InvalidArgument } from "../errors/index.js";

export interface LibraryBotOptions {
  /** Default "test-bot". */
  botId?: string;
  /** The bot's parameters (runtime ones included). `destination_queues` here replaces destinationPaths. */
  params?: Record<string, unknown>;
  /** Paths to configure, each to a queue of its own (default _default and _on_error). */
  destinationPaths?: readonly string[];
  harmonization?: Harmonization;
  /** Default: a logger on stderr at INTELMQ_LOGGING_LEVEL (default ERROR). */
  log?: Logger;
  /** Same as `log`. */
  logger?: Logger;
  rootDir?: string;
}

export interface LibraryResult {
  /** Per configured path, the serialised messages (flat dicts with __type) sent during this call. */
  output: Record<string, Record<string, unknown>[]>;
  /** Messages dumped during this call. */
  dumped: number;
  dumps: DumpEntry[];
  /** Set once the bot has exited (error_procedure stop, configuration error): its exit code. */
  exitCode?: number;
}

/**
 * One input: a flat dict with `__type` (one message, one envelope), or raw envelope bytes
 * (a Uint8Array, or `{"__pytype__": "bytes", "base64": ...}` as IntelMQ's recorded cases write bytes).
 */
export type LibraryInput = Record<string, unknown> | Uint8Array;

function inputBytes(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const o = input as Record<string, unknown>;
    if (o.__pytype__ === "bytes" && typeof o.base64 === "string") return new Uint8Array(Buffer.from(o.base64, "base64"));
    return encodeEnvelope([o]);
  }
  if (typeof input === "string") return new TextEncoder().encode(input);
  throw new InvalidArgument("input", input, "a message dict or bytes");
}

export interface LibraryBot {
  /**
   * Feed inputs one by one (each waits until its envelope is done), at most `iterations` of them
   * (default all); a collector runs `iterations` rounds (default 1) and takes no inputs.
   */
  process(inputs?: readonly (LibraryInput | unknown)[], iterations?: number): Promise<LibraryResult>;
  /** Stop the bot (shutdown() is called) and close the broker. */
  shutdown(): Promise<void>;
  readonly broker: MemoryBroker;
  readonly botId: string;
  /** The configured destination queues by path. */
  readonly destinationQueues: Readonly<Record<string, string[]>>;
  stats(): ReturnType<BotRunner["stats"]>;
}

/** IntelMQ's test harness names destination queues `<bot-id>-<path without underscores>-output`. */
function queueName(botId: string, path: string): string {
  return `${botId}-${path.replace(/^_+|_+$/g, "")}-output`;
}

/** Create a bot in library mode; throws what made its start fail (a ConfigurationError, usually). */
export async function createLibraryBot(def: BotDefinition, opts: LibraryBotOptions = {}): Promise<LibraryBot> {
  const botId = opts.botId ?? "test-bot";
  const broker = new MemoryBroker();
  const params: Record<string, unknown> = { ...(opts.params ?? {}) };
  if (params.destination_queues === undefined && def.kind !== "output") {
    const paths = opts.destinationPaths ?? ["_default", "_on_error"];
    params.destination_queues = Object.fromEntries(paths.map((p) => [p, [queueName(botId, p)]]));
  }
  params.testing = true;
  const log = opts.log ?? opts.logger ?? createLogger({ botId, level: process.env.INTELMQ_LOGGING_LEVEL ?? "ERROR" });
  const runner = new BotRunner({
    def, botId, params, broker, logger: log, harmonization: opts.harmonization, rootDir: opts.rootDir, manualRounds: true, window: 1,
  });
  await runner.init();
  if (runner.initError) {
    await broker.close();
    throw runner.initError;
  }
  let exitCode: number | undefined;
  void runner.done.then((c) => { exitCode = c; });

  const processInputs = async (inputs: readonly unknown[] = [], iterations?: number): Promise<LibraryResult> => {
    const paths = Object.keys(runner.destinationQueues);
    const output: Record<string, Record<string, unknown>[]> = Object.fromEntries(paths.map((p) => [p, []]));
    const dumps: DumpEntry[] = [];
    const onOutput = (o: OutputInfo): void => { (output[o.path] ??= []).push(...o.messages); };
    const onDump = (d: DumpEntry): void => { dumps.push(d); };
    runner.on("output", onOutput);
    runner.on("dump", onDump);
    try {
      if (runner.kind === "collector") {
        const rounds = iterations ?? 1;
        for (let i = 0; i < rounds && exitCode === undefined; i++) {
          if ((await runner.collectRound()) === "stop") { await runner.stop(); break; }
        }
      } else {
        const n = Math.min(iterations ?? inputs.length, inputs.length);
        const source = runner.runtime.source_queue;
        for (let i = 0; i < n && exitCode === undefined; i++) {
          const input = inputs[i]!;
          const settled = new Promise<SettledInfo | null>((resolve) => {
            const on = (s: SettledInfo): void => { runner.off("settled", on); resolve(s); };
            runner.on("settled", on);
            void runner.done.then(() => { runner.off("settled", on); resolve(null); });
          });
          await broker.queues.publish(source, inputBytes(input));
          await settled;
        }
      }
    } finally {
      runner.off("output", onOutput);
      runner.off("dump", onDump);
      // What was sent is returned, not kept: destination queues start empty on each call.
      for (const q of new Set(Object.values(runner.destinationQueues).flat())) await broker.queues.purge(q).catch(() => 0);
    }
    await Promise.resolve();
    const res: LibraryResult = { output, dumped: dumps.length, dumps };
    if (exitCode !== undefined) res.exitCode = exitCode;
    return res;
  };

  return {
    process: processInputs,
    async shutdown() {
      await runner.stop();
      await broker.close();
    },
    broker,
    botId,
    get destinationQueues() { return runner.destinationQueues; },
    stats: () => runner.stats(),
  };
}

export interface RunBotOptions extends LibraryBotOptions {
  /** The input messages (flat dicts with __type) or raw envelopes. */
  input?: readonly (LibraryInput | unknown)[] | LibraryInput;
  iterations?: number;
}

/**
 * IntelMQ's run_bot: create the bot in library mode, process the input, shut it down.
 * `out.output._default`, `out.output._on_error` hold what was sent; `out.dumped` counts dumps.
 */
export async function runBot(def: BotDefinition, opts: RunBotOptions = {}): Promise<LibraryResult> {
  const bot = await createLibraryBot(def, opts);
  try {
    const input = opts.input === undefined ? [] : Array.isArray(opts.input) ? opts.input : [opts.input as LibraryInput];
    return await bot.process(input as readonly unknown[], opts.iterations);
  } finally {
    await bot.shutdown();
  }
}
