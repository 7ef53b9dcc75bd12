// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-bot <bot-id>`: run one instance of one bot of runtime.yaml on NATS JetStream.
 * SIGTERM/SIGINT stop it cleanly (exit 0), SIGHUP re-reads runtime.yaml and reloads the bot.
 */
import { Command } from "commander";
import type { Logger } from "pino";
import { connectJetStream, type Broker, type JetStreamOptions } from "../broker/index.js";
import { ErrorCode, hasCode } from "../errors/index.js";
import { createLogger, resolveParams, startBot } from "../runtime/index.js";
import { effectiveParams, getBot, loadRuntimeConfig, natsOptions, queueSettings, type NatsSettings } from "../config/index.js";
import { parseArgs } from "./args.js";
import { hasModule, loadModule } from "./registry.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Connect, retrying with backoff while the server is not up yet (bots may start before NATS).
 * Gives up only when `cancelled()` says so (a stop signal), returning null.
 */
export async function connectWithRetry(nats: NatsSettings, name: string, log: Logger, cancelled: () => boolean): Promise<Broker | null> {
  const opts: JetStreamOptions & Record<string, unknown> = { servers: nats.servers, name };
  if (nats.user !== undefined) opts.user = nats.user;
  if (nats.pass !== undefined) opts.pass = nats.pass;
  if (nats.token !== undefined) opts.token = nats.token;
  // Not (yet) part of JetStreamOptions; passed along for a broker that understands them.
  if (nats.credsFile !== undefined) opts.credsFile = nats.credsFile;
  if (nats.tls !== undefined) opts.tls = nats.tls;
  let delay = 250;
  for (let attempt = 1; !cancelled(); attempt++) {
    try {
      return await connectJetStream(opts);
    } catch (err) {
      // A server that is too old or refuses our credentials will not get better by waiting.
      if (hasCode(err, ErrorCode.UnsupportedFeature) || hasCode(err, ErrorCode.ConfigurationError)) throw err;
      log.warn({ servers: nats.servers, attempt, retry_in_ms: delay, err: message(err) }, "NATS is not reachable yet, retrying");
      const until = Date.now() + delay;
      while (Date.now() < until && !cancelled()) await sleep(Math.min(100, until - Date.now()));
      delay = Math.min(delay * 2, 10_000);
    }
  }
  return null;
}

let broker: Broker | null = null;
let exiting = false;

/** Close the connection (bounded) and end the process. */
async function exit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  const b = broker;
  broker = null;
  if (b) await Promise.race([b.close().catch(() => undefined), sleep(5000)]);
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("intelmq-bot")
    .description("Run one instance of a bot of runtime.yaml on NATS JetStream")
    .argument("<bot-id>", "bot id in runtime.yaml ([0-9a-zA-Z-]+)")
    .option("--config <file>", "runtime.yaml (default: $INTELMQ_ROOT_DIR/etc/runtime.yaml)")
    .showHelpAfterError()
    .exitOverride();
  const exitCode = parseArgs(program, argv);
  if (exitCode !== null) return exitCode;
  const botId = program.args[0]!;
  const { config: configFile } = program.opts<{ config?: string }>();
  let log = createLogger({ botId, level: process.env.INTELMQ_LOGGING_LEVEL ?? "INFO" });

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

  try {
    const config = loadRuntimeConfig(configFile);
    const entry = getBot(config, botId);
    const params = effectiveParams(config, botId);
    log = createLogger({ botId, level: typeof params.logging_level === "string" ? params.logging_level : "INFO" });
    for (const w of config.warnings) if (w.botId === botId || w.botId === null) log.warn(w.message);
    if (!hasModule(entry.module)) {
      log.error({ module: entry.module }, `bot ${JSON.stringify(botId)}: unknown module ${JSON.stringify(entry.module)}, no bot of this project implements it`);
      return 1;
    }
    const def = await loadModule(entry.module);
    // Invalid parameters fail here, before waiting for NATS.
    resolveParams(def, botId, params);
    broker = await connectWithRetry(natsOptions(config), `intelmq-bot ${botId}`, log, () => stopping);
    if (!broker) return 0;
    log.info({ servers: natsOptions(config).servers }, "connected to NATS");
    handle = await startBot(def, { botId, params, broker, logger: log, queueSettings: queueSettings(config), instances: entry.instances });
    if (stopping) {
      await handle.stop();
      return 0;
    }
    const h = handle;
    process.on("SIGHUP", () => {
      try {
        const fresh = loadRuntimeConfig(configFile);
        getBot(fresh, botId);
        log.info("SIGHUP: reloading runtime configuration");
        Promise.resolve(h.reload(effectiveParams(fresh, botId))).catch((err: unknown) => log.error({ err }, `reload failed: ${message(err)}`));
      } catch (err) {
        log.error({ err }, `reload failed, keeping the running configuration: ${message(err)}`);
      }
    });
    const code = await h.done;
    // After a stop signal, the signal handler ends the process with 0.
    if (stopping) return new Promise<number>(() => undefined);
    return typeof code === "number" ? code : 0;
  } catch (err) {
    if (hasCode(err, ErrorCode.ConfigurationError)) {
      const text = message(err);
      log.error({ err }, text.includes(botId) ? text : `bot ${JSON.stringify(botId)}: ${text}`);
      return 1;
    }
    log.error({ err }, `bot ${JSON.stringify(botId)}: initialization failed: ${message(err)}`);
    return 1;
  }
}

main(process.argv).then(
  (code) => void exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmq-bot: ${message(err)}\n`);
    process.exit(1);
  },
);
