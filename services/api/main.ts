// SPDX-License-Identifier: AGPL-3.0-only
/**
 * `intelmq-api`: the HTTP API the IntelMQ Manager talks to (intelmq-api's routes under /v1/api/),
 * /metrics and the monitor page. Listens on 127.0.0.1:8080 unless global api_listen or
 * INTELMQ_API_LISTEN say otherwise; prints its URL on stdout once it listens.
 * SIGTERM/SIGINT end it with 0.
 */
import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ADMIN_IDENTITY, intelmqPaths, loadRuntimeConfig, natsOptions } from "../../shared/config/index.js";
import { errorMessage } from "../../shared/errors/index.js";
import { connectWithRetry, createLogger, watchParent } from "../../shared/runtime/index.js";
import { buildApi } from "./app.js";
import { SessionStore } from "./sessions.js";
import { apiSettings } from "./settings.js";

async function main(): Promise<number> {
  const paths = intelmqPaths();
  const config = loadRuntimeConfig(paths.runtimeConfFile, { missingOk: true });
  const log = createLogger({ level: process.env.INTELMQ_LOGGING_LEVEL ?? (typeof config.global.logging_level === "string" ? config.global.logging_level : "INFO") })
    .child({ service: "intelmq-api" });
  const s = apiSettings(paths, config);
  mkdirSync(s.allowedPath, { recursive: true });
  let stopping = false;
  // The operators' identity: the API does what intelmqctl does.
  const broker = await connectWithRetry(natsOptions(config, process.env, ADMIN_IDENTITY), "intelmq-api", log, () => stopping);
  if (!broker) return 0;
  const app = await buildApi({
    broker, paths, sessions: new SessionStore(broker, s.sessionDurationS), allowedPath: s.allowedPath, allowOrigins: s.allowOrigins, log,
  });
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => { resolveDone = r; });
  const shutdown = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason: why }, "stopping");
    void (async () => {
      await app.close().catch(() => undefined);
      await Promise.race([broker.close().catch(() => undefined), sleep(3000)]);
      resolveDone(0);
    })();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  watchParent(() => shutdown("parent exited"));
  await app.listen({ host: s.host, port: s.port });
  const addr = app.server.address();
  const port = addr && typeof addr === "object" ? addr.port : s.port;
  const host = s.host.includes(":") ? `[${s.host}]` : s.host;
  const url = `http://${host}:${port}/`;
  log.info({ url }, "listening");
  process.stdout.write(`intelmq-api listening on ${url} (IntelMQ Manager API root: ${url.replace(/\/$/, "")}, API under ${url}v1/api/)\n`);
  return done;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`intelmq-api: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
