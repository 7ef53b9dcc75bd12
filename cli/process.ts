// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `npm run process`: IntelMQ's library mode. Runs one bot on the in-memory broker over messages
 * read from stdin and prints what it sent. With --cases, the conformance executor
 * (../shared/conformance/FORMAT.md): one JSON case per stdin line, one JSON result per stdout line.
 */
import { Command, Option } from "commander";
import { createInterface } from "node:readline";
import type { Logger } from "pino";
import { errorMessage, ImqError } from "../shared/errors/index.js";
import { callTypeMethod } from "../shared/harmonization/index.js";
import { createLibraryBot, createLogger } from "../shared/runtime/index.js";
import { BOT_ID_RE, effectiveParams, loadRuntimeConfig } from "../shared/config/index.js";
import { parseArgs } from "./args.js";
import { guardProcess, readableLogs, verboseArg } from "./output.js";
import { hasModule, loadModule } from "./registry.js";

/** The bot id IntelMQ's own tests run with. */
const CASE_BOT_ID = "test-bot";

type Json = Record<string, unknown>;
type LibraryBot = Awaited<ReturnType<typeof createLibraryBot>>;

function write(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/** A message as it travels: flat dict with __type. */
function plain(m: unknown): unknown {
  if (m && typeof m === "object" && typeof (m as { serialize?: unknown }).serialize === "function") {
    return (m as { serialize(): unknown }).serialize();
  }
  return m;
}

function plainOutput(output: Record<string, readonly unknown[]> | undefined): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [path, list] of Object.entries(output ?? {})) out[path] = list.map(plain);
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---------- conformance cases ----------

interface HarmonizationCase { id: string; kind: "harmonization"; type: string; method: string; args?: Json }
interface BotCase {
  id: string; kind: "bot"; session?: string; continue?: boolean; module: string;
  parameters?: Json; destination_paths?: string[]; iterations?: number; input?: unknown[];
}

function harmonizationCase(c: HarmonizationCase): Json {
  try {
    const result = callTypeMethod(c.type, c.method, c.args ?? {});
    return { id: c.id, result: result === undefined ? null : result };
  } catch (err) {
    // IntelMQ's exception name; for a plain JS error its class name (TypeError, ...), as Python would raise.
    const name = err instanceof ImqError ? err.intelmqName : err instanceof Error ? err.name : "Exception";
    return { id: c.id, raises: name };
  }
}

class CaseRunner {
  #current: { session: string | undefined; module: string; paths: string; bot: LibraryBot } | null = null;
  constructor(readonly log: Logger, readonly timeoutMs: number) {}

  async #drop(): Promise<void> {
    const cur = this.#current;
    this.#current = null;
    if (cur) await withTimeout(Promise.resolve(cur.bot.shutdown()), this.timeoutMs, "shutdown").catch((err) => this.log.warn({ err }, "bot shutdown failed"));
  }

  async bot(c: BotCase): Promise<Json> {
    if (!hasModule(c.module)) {
      if (!c.continue) await this.#drop();
      return { id: c.id, error: `unsupported module ${c.module}` };
    }
    let bot: LibraryBot;
    const cur = this.#current;
    const paths = c.destination_paths ?? ["_default"];
    // A continuation keeps the instance, unless IntelMQ's test prepared the bot anew with other destination queues.
    if (c.continue && cur && cur.session === c.session && cur.module === c.module && cur.paths === JSON.stringify(paths)) {
      bot = cur.bot;
    } else {
      await this.#drop();
      try {
        const def = await loadModule(c.module);
        bot = await withTimeout(Promise.resolve(createLibraryBot(def, {
          botId: CASE_BOT_ID,
          params: c.parameters ?? {},
          destinationPaths: paths,
          logger: this.log,
        })), this.timeoutMs, "bot start");
      } catch (err) {
        return { id: c.id, error: `bot cannot start: ${errorMessage(err)}` };
      }
      this.#current = { session: c.session, module: c.module, paths: JSON.stringify(paths), bot };
    }
    try {
      const r = await withTimeout(Promise.resolve(bot.process(c.input ?? [], c.iterations ?? (c.input ?? []).length)), this.timeoutMs, "processing");
      return { id: c.id, output: plainOutput(r.output), dumped: r.dumped ?? 0 };
    } catch (err) {
      // The instance's state is unknown now: the next case starts a fresh one.
      this.#current = null;
      void Promise.resolve().then(() => bot.shutdown()).catch(() => undefined);
      return { id: c.id, error: errorMessage(err) };
    }
  }

  async close(): Promise<void> {
    await this.#drop();
  }
}

async function runCases(log: Logger, timeoutMs: number): Promise<void> {
  const runner = new CaseRunner(log, timeoutMs);
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let c: { id?: unknown; kind?: unknown };
    try {
      c = JSON.parse(line) as typeof c;
    } catch (err) {
      log.error({ err }, "a case line is not JSON");
      continue;
    }
    const id = String(c.id ?? "");
    let result: Json;
    try {
      if (c.kind === "harmonization") result = harmonizationCase(c as HarmonizationCase);
      else if (c.kind === "bot") result = await runner.bot(c as BotCase);
      else result = { id, error: `unknown case kind ${JSON.stringify(c.kind)}` };
    } catch (err) {
      result = { id, error: errorMessage(err) };
    }
    write(result);
  }
  await runner.close();
}

// ---------- library mode ----------

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Messages from text: a JSON array, or one JSON object per line. */
function parseMessages(text: string): unknown[] {
  const t = text.trim();
  if (t === "") return [];
  if (t.startsWith("[")) {
    const v = JSON.parse(t) as unknown;
    if (!Array.isArray(v)) throw new Error("input is not a JSON array");
    return v;
  }
  return t.split(/\r?\n/).filter((l) => l.trim() !== "").map((l, i) => {
    try {
      return JSON.parse(l) as unknown;
    } catch (err) {
      throw new Error(`input line ${i + 1} is not JSON: ${errorMessage(err)}`, { cause: err });
    }
  });
}

interface LibraryOptions { params?: string; botId?: string; iterations?: string; paths?: string; config?: string }

async function runLibrary(target: string, opts: LibraryOptions, log: Logger): Promise<number> {
  let params: Json = {};
  if (opts.params) {
    const v = JSON.parse(opts.params) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("--params must be a JSON object");
    params = v as Json;
  }
  // A configured bot id brings its module and runtime.yaml parameters; a module name runs with --params only.
  const config = loadRuntimeConfig(opts.config, { missingOk: true });
  let module = target;
  let botId = opts.botId ?? "library-bot";
  const configured = (id: string) => BOT_ID_RE.test(id) && Object.hasOwn(config.bots, id);
  if (!target.includes(".") && configured(target)) {
    botId = opts.botId ?? target;
    module = config.bots[target]!.module;
  }
  if (configured(botId)) params = { ...effectiveParams(config, botId), ...params };
  if (!hasModule(module)) {
    log.error(`unknown module or bot id ${JSON.stringify(target)}: no bot implements it and runtime.yaml has no such bot`);
    return 1;
  }
  const def = await loadModule(module);
  const dq = params.destination_queues;
  const paths = opts.paths
    ? opts.paths.split(",").map((s) => s.trim()).filter(Boolean)
    : [...new Set(["_default", ...(dq && typeof dq === "object" && !Array.isArray(dq) ? Object.keys(dq) : [])])];
  const input = def.kind === "collector" ? [] : parseMessages(await readStdin());
  const iterations = opts.iterations !== undefined ? Number(opts.iterations) : def.kind === "collector" ? 1 : input.length;
  const bot = await createLibraryBot(def, { botId, params, destinationPaths: paths, logger: log });
  try {
    const r = await bot.process(input, iterations);
    let sent = 0;
    for (const [path, list] of Object.entries(plainOutput(r.output))) {
      for (const message of list) {
        write({ path, message });
        sent++;
      }
    }
    process.stderr.write(`${botId}: ${input.length} in, ${sent} sent, ${r.dumped ?? 0} dumped\n`);
  } finally {
    await bot.shutdown();
  }
  return 0;
}

// ---------- main ----------

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("process")
    .description("Run a bot without a broker (IntelMQ's library mode): messages from stdin, what it sent to stdout")
    .argument("[target]", "IntelMQ module name or a bot id of runtime.yaml")
    .option("--params <json>", "bot parameters as a JSON object (over runtime.yaml's)")
    .option("--bot-id <id>", "bot id to run as (its runtime.yaml parameters apply)")
    .option("--iterations <n>", "how many input messages to process (default: all)")
    .option("--paths <list>", "comma-separated destination paths to collect (default: _default and destination_queues' paths)")
    .option("--config <file>", "runtime.yaml to read (default: $INTELMQ_ROOT_DIR/etc/runtime.yaml)")
    .option("--cases", "conformance executor: cases on stdin, results on stdout (../shared/conformance/FORMAT.md)")
    .addOption(new Option("--log-level <level>", "logging level").choices(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]))
    .option("--timeout <seconds>", "per-case time limit in --cases mode", "60")
    .option("--verbose", "show the stacks of logged errors")
    .showHelpAfterError()
    .exitOverride();
  const exitCode = parseArgs(program, argv);
  if (exitCode !== null) return exitCode;
  const o = program.opts<LibraryOptions & { cases?: boolean; logLevel?: string; timeout: string }>();
  const level = o.logLevel ?? (o.cases ? "WARNING" : process.env.INTELMQ_LOGGING_LEVEL ?? "INFO");
  // Cases speak JSON lines; people running a bot read IntelMQ's log lines (stacks at DEBUG or --verbose).
  const log = o.cases ? createLogger({ level }) : createLogger({ level, destination: readableLogs({ verbose: level.toUpperCase() === "DEBUG" || verboseArg(argv), name: "process" }) });
  if (o.cases) {
    await runCases(log, Number(o.timeout) * 1000);
    return 0;
  }
  const target = program.args[0];
  if (!target) {
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    return await runLibrary(target, o, log);
  } catch (err) {
    log.error({ err }, errorMessage(err));
    return 1;
  }
}

guardProcess("process", () => verboseArg(process.argv));
main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Bots may leave timers behind (caches, rate limits): results are written, so end here.
    process.stdout.write("", () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`process: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
