// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-bot <bot-id>`: run one instance of one bot of runtime.yaml on NATS JetStream.
 * SIGTERM/SIGINT stop it cleanly (exit 0), SIGHUP re-reads runtime.yaml and reloads the bot.
 */
import { Command } from "commander";
import { pino, type DestinationStream } from "pino";
import type { Broker } from "../shared/broker/index.js";
import { ErrorCode, errorMessage, hasCode } from "../shared/errors/index.js";
import { connectWithRetry, createLogger, resolveParams, startBot, startBotControl, watchParent, type BotControl } from "../shared/runtime/index.js";
import {
  INTELMQ_OPT_ROOT, effectiveParams, getBot, heapSettingsHeld, loadRuntimeConfig, natsOptions, queueSettingsFor, remappedPaths, rootDir,
} from "../shared/config/index.js";
import { parseArgs } from "./args.js";
import { guardProcess } from "./output.js";
import { hasModule, loadModule } from "./registry.js";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";

/** Kept here for callers of earlier versions; lives in shared/runtime now. */
export { connectWithRetry };

/**
 * Where the bot's pino lines go: stderr as always, and once connected also the logs stream
 * (each write is one finished line, handed on as it is).
 */
class LogTee implements DestinationStream {
  readonly #stderr = pino.destination({ dest: 2, sync: true });
  sink: ((line: string) => void) | null = null;
  write(line: string): void {
    this.#stderr.write(line);
    this.sink?.(line);
  }
  flushSync(): void {
    this.#stderr.flushSync();
  }
}

/** A message to the control service that spawned us (nothing when run by hand). */
function tellParent(msg: Record<string, unknown>): void {
  if (!process.send || !process.connected) return;
  try {
    // With a callback a failed send is not an 'error' event: the service is gone, and the disconnect ends us.
    process.send(msg, undefined, undefined, () => undefined);
  } catch { /* the channel closed just now */ }
}

let broker: Broker | null = null;
const logTee = new LogTee();
let control: BotControl | null = null;
let exiting = false;

/** Remove the heartbeat, close the connection (both bounded) and end the process. */
async function exit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  const c = control;
  control = null;
  if (c) await Promise.race([c.close().catch(() => undefined), sleep(2000)]);
  const b = broker;
  broker = null;
  logTee.sink = null;
  if (b) await Promise.race([b.close().catch(() => undefined), sleep(5000)]);
  process.exit(code);
}

/**
 * A command of the bot (BotDefinition.commands) with its parameters from runtime.yaml, without
 * NATS: IntelMQ's `<bot module> --update-schema`. Logs errors only unless verbose, as IntelMQ.
 */
async function runCommand(botId: string, name: string, configFile: string | undefined, verbose: boolean): Promise<number> {
  const log = createLogger({ botId, level: verbose ? "INFO" : "ERROR", destination: logTee });
  try {
    const config = loadRuntimeConfig(configFile);
    const entry = getBot(config, botId);
    if (!hasModule(entry.module)) {
      log.error(`bot ${JSON.stringify(botId)}: unknown module ${JSON.stringify(entry.module)}, no bot of this project implements it`);
      return 1;
    }
    const def = await loadModule(entry.module);
    const command = def.commands?.[name];
    if (!command) {
      log.error(`bot ${JSON.stringify(botId)} (${entry.module}) has no command --${name}`);
      return 1;
    }
    const { bot } = resolveParams(def, botId, effectiveParams(config, botId));
    const root = rootDir();
    return await command.run(bot, { botId, log, rootDir: root, stateDir: join(root, "var", "lib", "bots", botId) });
  } catch (err) {
    log.error({ err }, `bot ${JSON.stringify(botId)}: --${name} failed: ${errorMessage(err)}`);
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("intelmq-bot")
    .description("Run one instance of a bot of runtime.yaml on NATS JetStream")
    .argument("<bot-id>", "bot id in runtime.yaml ([0-9a-zA-Z-]+)")
    .option("--config <file>", "runtime.yaml (default: $INTELMQ_ROOT_DIR/etc/runtime.yaml)")
    .option("--update-schema", "run the bot's update-schema command instead of the bot (Shadowserver parser: download the report schema)")
    .option("--update-database", "run the bot's update-database command instead of the bot (experts with a local database: download it, verify it, replace the file)")
    .option("--verbose", "with a command: log at INFO level (default: errors only)")
    .showHelpAfterError()
    .exitOverride();
  const exitCode = parseArgs(program, argv);
  if (exitCode !== null) return exitCode;
  const botId = program.args[0]!;
  const { config: configFile, updateSchema, updateDatabase, verbose } = program.opts<{ config?: string; updateSchema?: boolean; updateDatabase?: boolean; verbose?: boolean }>();
  if (updateSchema) return runCommand(botId, "update-schema", configFile, verbose === true);
  if (updateDatabase) return runCommand(botId, "update-database", configFile, verbose === true);
  let log = createLogger({ botId, level: process.env.INTELMQ_LOGGING_LEVEL ?? "INFO", destination: logTee });

  let stopping = false;
  let handle: Awaited<ReturnType<typeof startBot>> | null = null;
  const onStop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    const h = handle;
    if (!h) return; // still starting: the start-up sees `stopping` and exits 0
    Promise.resolve(h.stop())
      .catch((err: unknown) => log.error({ err }, "stop failed"))
      .finally(() => void exit(0));
  };
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGINT", () => onStop("SIGINT"));
  // A SIGHUP before the bot runs must not end the process (Node's default): the start reads the file anyway.
  let onHup: (() => void) | null = null;
  process.on("SIGHUP", () => (onHup ? onHup() : log.info("SIGHUP while starting: nothing to reload yet")));
  // Started by a control service: end with it (it may have been killed without stopping us).
  watchParent(() => onStop("parent exited"));
  // A control service also gives us an IPC channel: it closes the moment the service ends, and
  // carries our "up" message. It must not keep the process alive by itself.
  if (process.channel) {
    process.channel.unref();
    process.once("disconnect", () => onStop("parent exited"));
  }

  try {
    const config = loadRuntimeConfig(configFile);
    const entry = getBot(config, botId);
    const params = effectiveParams(config, botId);
    log = createLogger({ botId, level: typeof params.logging_level === "string" ? params.logging_level : "INFO", destination: logTee });
    for (const w of config.warnings) if (w.botId === botId || w.botId === null) log.warn(w.message);
    if (!hasModule(entry.module)) {
      log.error({ module: entry.module }, `bot ${JSON.stringify(botId)}: unknown module ${JSON.stringify(entry.module)}, no bot of this project implements it`);
      return 1;
    }
    const def = await loadModule(entry.module);
    // Invalid parameters fail here, before waiting for NATS.
    resolveParams(def, botId, params);
    broker = await connectWithRetry(natsOptions(config, process.env, botId), `intelmq-bot ${botId}`, log, () => stopping);
    if (!broker) return 0;
    const b = broker;
    logTee.sink = (line) => b.logs.append(botId, line);
    log.info({ servers: natsOptions(config).servers }, "connected to NATS");
    const held = heapSettingsHeld();
    if (held.length) log.info({ applied: held }, "started without the bot's V8 settings (BOT_NODE_FLAGS): applied at run time");
    // IntelMQ's /opt/intelmq paths are taken under the root: say once where the files really are.
    for (const r of remappedPaths(config).filter((x) => x.botId === botId)) {
      log.info(`${r.parameter} ${r.configured}${r.isDefault ? " (default)" : ""} is ${r.path}: paths under ${INTELMQ_OPT_ROOT} are taken under INTELMQ_ROOT_DIR (${rootDir()})`);
    }
    // A reload reads runtime.yaml again: the queues are made sure of with its settings (limits).
    let current = config;
    handle = await startBot(def, { botId, params, broker, logger: log, queueSettingsFor: (q) => queueSettingsFor(current, q) });
    if (stopping) {
      await handle.stop();
      return 0;
    }
    const h = handle;
    /** Re-read runtime.yaml and reload at a safe point; throws (keeping the running configuration) when the file is unusable. */
    const reload = async (via: string): Promise<void> => {
      let params: Record<string, unknown>;
      try {
        const fresh = loadRuntimeConfig(configFile);
        getBot(fresh, botId);
        params = effectiveParams(fresh, botId);
        current = fresh;
      } catch (err) {
        log.error({ err }, `reload failed, keeping the running configuration: ${errorMessage(err)}`);
        throw err;
      }
      log.info(`${via}: reloading runtime configuration`);
      try {
        await h.reload(params);
      } catch (err) {
        log.error({ err }, `reload failed: ${errorMessage(err)}`);
        throw err;
      }
    };
    onHup = () => void reload("SIGHUP").catch(() => undefined); // logged by reload()
    try {
      control = await startBotControl({ broker, handle: h, reload: () => reload("control request"), log });
      // The control service counts us as running from our first heartbeat on.
      const c = control;
      void c.firstHeartbeat.then(() => tellParent({ intelmq: "up", instance: c.instance }));
    } catch (err) {
      // The bot works without its control subject; intelmqctl then reports it as unknown.
      log.error({ err }, `control subject not served: ${errorMessage(err)}`);
    }
    const code = await h.done;
    // After a stop signal, the signal handler ends the process with 0.
    if (stopping) return new Promise<number>(() => undefined);
    return typeof code === "number" ? code : 0;
  } catch (err) {
    if (hasCode(err, ErrorCode.ConfigurationError)) {
      const text = errorMessage(err);
      log.error({ err }, text.includes(botId) ? text : `bot ${JSON.stringify(botId)}: ${text}`);
      return 1;
    }
    log.error({ err }, `bot ${JSON.stringify(botId)}: initialization failed: ${errorMessage(err)}`);
    return 1;
  }
}

// A closed stderr (`intelmq-bot x 2>&1 | head`) ends the bot quietly; its own errors it logs itself.
guardProcess("intelmq-bot", () => false, { uncaught: false });
main(process.argv).then(
  (code) => void exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmq-bot: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
