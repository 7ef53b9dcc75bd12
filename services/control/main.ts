// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-control [--host NAME] [--bots a,b,...]`: the control service of one host. Runs the
 * bots of runtime.yaml as `intelmq-bot` processes (restarting crashed ones) and answers
 * intelmqctl on `intelmq.control.host.<host>.*` and `intelmq.control.botnet.*`.
 * SIGTERM/SIGINT stop the bots and end the service with 0; SIGHUP reloads.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import type { Broker } from "../../shared/broker/index.js";
import { CONTROL_IDENTITY, intelmqPaths, loadRuntimeConfig, natsOptions, type RuntimeConfig } from "../../shared/config/index.js";
import { connectWithRetry, createLogger, instanceHost, watchParent } from "../../shared/runtime/index.js";
import { ProcessManager } from "./manager.js";
import { ControlService } from "./service.js";
import { errorMessage } from "../../shared/errors/index.js";

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("intelmq-control")
    .description("Run and manage the bots of runtime.yaml on this host; answers intelmqctl over NATS")
    .option("--host <name>", "host name in the control subjects (default: $INTELMQ_HOST or the machine's name)")
    .option("--bots <ids>", "manage only these bots (comma-separated; default: every bot of runtime.yaml)")
    .option("--config <file>", "runtime.yaml (default: $INTELMQ_ROOT_DIR/etc/runtime.yaml)")
    .option("--stop-timeout <seconds>", "how long a stopping bot may drain before it is killed", "15")
    .option("--start-timeout <seconds>", "how long start and restart wait for a new bot process's first heartbeat", "30")
    .option("--nats-pid <pid>", "the local nats-server that npm start runs: stopped after the bots if the parent process dies")
    .showHelpAfterError()
    .exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return typeof code === "number" ? code : 2;
  }
  const o = program.opts<{ host?: string; bots?: string; config?: string; stopTimeout: string; startTimeout: string; natsPid?: string }>();
  const host = o.host?.trim() || instanceHost();
  let log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? "INFO" }).child({ service: "intelmq-control", host });
  if (!/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(host)) {
    log.error(`invalid host name ${JSON.stringify(host)} (no spaces, '*' or '>')`);
    return 2;
  }
  const stopTimeoutS = Number(o.stopTimeout);
  if (!Number.isFinite(stopTimeoutS) || stopTimeoutS <= 0) {
    log.error(`invalid --stop-timeout ${JSON.stringify(o.stopTimeout)}`);
    return 2;
  }
  const startTimeoutS = Number(o.startTimeout);
  if (!Number.isFinite(startTimeoutS) || startTimeoutS <= 0) {
    log.error(`invalid --start-timeout ${JSON.stringify(o.startTimeout)}`);
    return 2;
  }
  const natsPid = o.natsPid === undefined ? undefined : Number(o.natsPid);
  if (natsPid !== undefined && !(Number.isInteger(natsPid) && natsPid > 0)) {
    log.error(`invalid --nats-pid ${JSON.stringify(o.natsPid)}`);
    return 2;
  }
  const only = o.bots ? o.bots.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  const loadConfig = (): RuntimeConfig => loadRuntimeConfig(o.config);

  let config: RuntimeConfig;
  try {
    config = loadConfig();
  } catch (err) {
    log.error({ err }, errorMessage(err));
    return 1;
  }
  const level = process.env.INTELMQ_LOGGING_LEVEL ?? (typeof config.global.logging_level === "string" ? config.global.logging_level : "INFO");
  log = createLogger({ level }).child({ service: "intelmq-control", host });
  const unknown = (only ?? []).filter((id) => !(id in config.bots));
  if (unknown.length) {
    log.error({ bots: unknown }, `not in ${config.file ?? "runtime.yaml"}: ${unknown.join(", ")}`);
    return 1;
  }

  const root = intelmqPaths().root;
  const manager = new ProcessManager({
    rootDir: root, host, log, stopTimeoutMs: stopTimeoutS * 1000, startTimeoutMs: startTimeoutS * 1000, ...(o.config ? { configFile: o.config } : {}),
  });
  await manager.setConfig(config, only);

  let stopping = false;
  let broker: Broker | null = null;
  let service: ControlService | null = null;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => { resolveDone = r; });
  const shutdown = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason: why }, "stopping the bots");
    void (async () => {
      await manager.close().catch((err: unknown) => log.error({ err }, "stopping the bots failed"));
      await service?.close();
      if (broker) await Promise.race([broker.close().catch(() => undefined), sleep(5000)]);
      // npm start died without stopping its nats-server: after the bots, nothing needs it.
      if (why === "parent exited" && natsPid !== undefined) await stopNatsServer(natsPid, root, log);
      log.info("stopped");
      resolveDone(0);
    })();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    if (stopping) return;
    log.info("SIGHUP: reloading runtime configuration");
    const reload = service ? service.reload() : (async () => {
      await manager.setConfig(loadConfig(), only);
      await manager.reload();
    })();
    reload.catch((err: unknown) => log.error({ err }, `reload failed: ${errorMessage(err)}`));
  });
  watchParent(() => shutdown("parent exited"));

  // The bots connect (and wait for NATS) on their own: start them before our own connection.
  // No waiting for their first heartbeats here: failures are logged as they come.
  await manager.start(undefined, false, false);
  const managed = manager.ids;
  log.info({ bots: manager.status(), managed: managed.length }, `managing ${managed.length} bots`);

  const nats = natsOptions(config, process.env, CONTROL_IDENTITY);
  void (async () => {
    try {
      broker = await connectWithRetry(nats, `intelmq-control ${host}`, log, () => stopping);
      if (!broker) return;
      if (stopping) {
        await broker.close().catch(() => undefined);
        return;
      }
      log.info({ servers: nats.servers }, "connected to NATS");
      service = new ControlService({ broker, manager, host, log, loadConfig, ...(only ? { only } : {}) });
      await service.start();
      log.info({ subjects: [`intelmq.control.host.${host}.*`, "intelmq.control.botnet.*"] }, "answering control requests");
    } catch (err) {
      log.error({ err }, `cannot serve control requests: ${errorMessage(err)}`);
    }
  })();

  return done;
}

/** SIGTERM (SIGKILL after 10 s) to the nats-server `pid`, if it still is one; then its address files go. */
async function stopNatsServer(pid: number, root: string, log: ReturnType<typeof createLogger>): Promise<void> {
  const isNats = () => {
    try { return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("nats-server"); } catch { return false; }
  };
  if (!isNats()) return;
  log.info({ nats_pid: pid }, "stopping the nats-server of npm start");
  try { process.kill(pid, "SIGTERM"); } catch { return; }
  const until = Date.now() + 10_000;
  while (isNats() && Date.now() < until) await sleep(100);
  if (isNats()) {
    log.warn({ nats_pid: pid }, "nats-server did not stop in time, killing it");
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }
  for (const f of ["nats.url", "nats.pid"]) rmSync(join(root, "var", "run", f), { force: true });
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmq-control: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
