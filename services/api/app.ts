// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The HTTP API: intelmq-api's routes under /v1/api/ with its methods, parameters, JSON shapes and
 * status codes, so that the IntelMQ Manager works against it. Where intelmq-api runs
 * `intelmqctl --type json ...` in a shell, we run intelmqctl's commands in this process over the
 * API's own NATS connection; their output and IntelMQ's error rule (stderr or no output: 500
 * with {tip, message, command}) are the same. Besides: /metrics, the monitor page at / and its
 * own routes under /v1/monitor/ (monitor.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Broker } from "../../shared/broker/index.js";
import { PROJECT_ROOT, globalSettings, loadRuntimeConfig, type IntelmqPaths, type RuntimeConfig } from "../../shared/config/index.js";
import { errorMessage } from "../../shared/errors/index.js";
import { main as intelmqctl } from "../../cli/intelmqctl.js";
import { ControlClient } from "../../cli/ctl-control.js";
import { loadFileOrDirectory, positionsFile, readRuntime } from "./files.js";
import { Metrics } from "./metrics.js";
import { registerMonitorRoutes } from "./monitor.js";
import { writeRuntime } from "./runtime.js";
import type { SessionStore } from "./sessions.js";

export interface ApiOptions {
  broker: Broker;
  paths: IntelmqPaths;
  sessions: SessionStore;
  /** The folder /config may read. */
  allowedPath: string;
  /** CORS: allowed origins, "*" for any (intelmq-api's allow_origins). */
  allowOrigins: string[];
  log: Logger;
}

const ACTIONS = ["start", "stop", "restart", "reload", "status"] as const;
const GROUPS = ["collectors", "parsers", "experts", "outputs", "botnet"] as const;
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "ALL"] as const;
const BOT_CMDS = ["get", "pop", "send", "process"] as const;
const ID_RE = /^[A-Za-z0-9-]+$/;
/** An HTTP request does not wait for ever for a message to arrive (`run` get and pop). */
const RUN_WAIT_MS = 10_000;

/** FastAPI's answer to a parameter it refuses: 422 with the list of problems. */
class InvalidParam extends Error {
  override readonly name = "InvalidParam";
  constructor(readonly loc: string[], message: string) {
    super(message);
  }
}

type Query = Record<string, string | undefined>;

function required(q: Query, name: string, where = "query"): string {
  const v = q[name];
  if (v === undefined) throw new InvalidParam([where, name], "Field required");
  return v;
}

function oneOf<T extends string>(q: Query, name: string, allowed: readonly T[], dflt?: T): T {
  const v = q[name] ?? dflt;
  if (v === undefined) throw new InvalidParam(["query", name], "Field required");
  if (!(allowed as readonly string[]).includes(v)) throw new InvalidParam(["query", name], `Input should be ${allowed.map((a) => `'${a}'`).join(", ")}`);
  return v as T;
}

function id(q: Query, name = "id"): string {
  const v = required(q, name);
  if (!ID_RE.test(v)) throw new InvalidParam(["query", name], `Value error, Invalid character in ${JSON.stringify(v)}`);
  return v;
}

/** FastAPI's booleans: true/1/yes/on and false/0/no/off. */
function bool(q: Query, name: string): boolean {
  const v = q[name];
  if (v === undefined) return false;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new InvalidParam(["query", name], "Input should be a valid boolean");
}

function int(q: Query, name: string): number {
  const v = required(q, name);
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidParam(["query", name], "Input should be a valid integer");
  return Number(v);
}

/** Text the run of a command wrote, and its exit code. */
interface CtlRun { code: number; stdout: string; stderr: string; command: string }

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Build the app (not listening); close() closes the app, not the broker. */
export async function buildApi(o: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: o.log as FastifyBaseLogger, disableRequestLogging: true, bodyLimit: 16 * 1024 * 1024 }) as unknown as FastifyInstance;
  const config = (): RuntimeConfig => loadRuntimeConfig(o.paths.runtimeConfFile, { missingOk: true });
  let control: ControlClient | null = null;
  const controlClient = async (): Promise<ControlClient> => {
    control ??= new ControlClient(o.broker, {
      replyWaitMs: Math.round(Number(process.env.INTELMQCTL_CONTROL_WAIT ?? globalSettings(config().global).intelmqctl_control_wait ?? 0.5) * 1000),
      actionTimeoutMs: Math.round((globalSettings(config().global).intelmqctl_action_timeout ?? 60) * 1000),
    });
    return control;
  };
  const metrics = new Metrics(o.broker, controlClient, config);

  const ctl = async (args: string[], json = true): Promise<CtlRun> => {
    const argv = [...(json ? ["--type", "json"] : []), ...args];
    let stdout = "";
    let stderr = "";
    const code = await intelmqctl(["node", "intelmqctl", ...argv], {
      stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, broker: o.broker, runWaitMs: RUN_WAIT_MS,
    }).catch((err: unknown) => { stderr += errorMessage(err); return 1; });
    return { code, stdout, stderr, command: ["intelmqctl", ...argv].join(" ") };
  };
  /** intelmq-api's rule: output on stderr, or none on stdout, is a failure (500). */
  const sendCtl = (reply: FastifyReply, r: CtlRun, type = "application/json"): FastifyReply => {
    if (!r.stdout.trim() || r.stderr) {
      return reply.code(500).send({ tip: "", message: r.stderr || "Failed to execute intelmqctl.", command: r.command });
    }
    return reply.type(type).send(type === "application/json" ? r.stdout.trim() : r.stdout);
  };

  // Forms as the Manager posts them (jQuery: application/x-www-form-urlencoded).
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.setErrorHandler((err: Error, _req, reply) => {
    if (err instanceof InvalidParam) {
      return reply.code(422).send({ detail: [{ type: "value_error", loc: err.loc, msg: err.message }] });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    o.log.error({ err }, `API request failed: ${errorMessage(err)}`);
    return reply.code(500).send({ error: errorMessage(err) });
  });

  // CORS as Starlette's middleware with intelmq-api's settings (methods GET and POST).
  const anyOrigin = o.allowOrigins.includes("*");
  app.addHook("onRequest", async (req, reply) => {
    const origin = req.headers.origin;
    if (!origin) return;
    const allowed = anyOrigin || o.allowOrigins.includes(origin);
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
      if (!allowed) return reply.code(400).type("text/plain").send("Disallowed CORS origin");
      return reply.code(200).headers({
        "access-control-allow-origin": anyOrigin ? "*" : origin,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "",
        "access-control-max-age": "600",
        ...(anyOrigin ? {} : { vary: "Origin" }),
      }).send("OK");
    }
    if (allowed) {
      void reply.header("access-control-allow-origin", anyOrigin ? "*" : origin);
      if (!anyOrigin) void reply.header("vary", "Origin");
    }
  });

  // Every route of the API and of the monitor but login needs a valid session token.
  app.addHook("onRequest", async (req, reply) => {
    if (reply.sent) return reply;
    const path = req.url.split("?")[0]!;
    if (!(path.startsWith("/v1/api/") || path.startsWith("/v1/monitor/")) || path === "/v1/api/login") return;
    const token = req.headers.authorization;
    const user = token ? await o.sessions.verifyToken(token) : null;
    if (!user) {
      return reply.code(401).send({ error: { "Authentication Required": "Please provide valid Token verification credentials" } });
    }
  });

  const cached = (reply: FastifyReply) => reply.header("cache-control", "max-age=3");
  const q = (req: FastifyRequest) => req.query as Query;

  app.post("/v1/api/login", async (req, reply) => {
    const form = (req.body ?? {}) as Query;
    const username = required(form, "username", "body");
    const password = required(form, "password", "body");
    if (!(await o.sessions.verifyUser(username, password))) {
      return reply.code(401).send({ error: "Invalid username and/or password." });
    }
    return { login_token: await o.sessions.newSession(username), username };
  });

  app.get("/v1/api/botnet", async (req, reply) => {
    const action = oneOf(q(req), "action", ACTIONS);
    const group = q(req).group === undefined ? undefined : oneOf(q(req), "group", GROUPS);
    return sendCtl(reply, await ctl([action, ...(group && group !== "botnet" ? ["--group", group] : [])]));
  });
  app.get("/v1/api/bot", async (req, reply) => {
    const action = oneOf(q(req), "action", ACTIONS);
    return sendCtl(reply, await ctl([action, id(q(req))]));
  });
  app.get("/v1/api/getlog", async (req, reply) => {
    const lines = int(q(req), "lines");
    const bot = id(q(req));
    const level = oneOf(q(req), "level", LEVELS, "DEBUG");
    cached(reply);
    return sendCtl(reply, await ctl(["log", bot, String(lines), level === "ALL" ? "DEBUG" : level]));
  });
  for (const kind of ["queues", "queues-and-status", "bots"]) {
    app.get(`/v1/api/${kind}`, async (_req, reply) => sendCtl(cached(reply), await ctl(["list", kind])));
  }
  app.get("/v1/api/version", async (_req, reply) => {
    const r = await ctl(["--version"], false);
    if (!r.stdout.trim() || r.stderr) return sendCtl(reply, r);
    return { intelmq: r.stdout.trim(), "intelmq-api": version() };
  });
  app.get("/v1/api/check", async (_req, reply) => sendCtl(reply, await ctl(["check"])));
  app.get("/v1/api/debug", async (_req, reply) => sendCtl(reply, await ctl(["debug"])));
  app.get("/v1/api/clear", async (req, reply) => sendCtl(reply, await ctl(["clear", id(q(req))])));
  app.post("/v1/api/run", async (req, reply) => {
    const bot = required(q(req), "bot");
    const cmd = oneOf(q(req), "cmd", BOT_CMDS);
    const show = bool(q(req), "show");
    const dry = bool(q(req), "dry");
    const msg = ((req.body ?? {}) as Query).msg ?? "";
    const args = ["run", bot];
    if (cmd === "get" || cmd === "pop") args.push("message", cmd);
    else if (cmd === "send") args.push("message", "send", msg);
    else args.push("process", ...(show ? ["--show-sent"] : []), ...(dry ? ["--dryrun"] : []), "--msg", msg);
    const r = await ctl(args, false);
    if (!r.stdout.trim() || r.stderr) return sendCtl(reply, r);
    // FastAPI's response_model=str: the text as a JSON string.
    return reply.type("application/json").send(JSON.stringify(r.stdout));
  });

  app.get("/v1/api/config", async (req, reply) => {
    const file = required(q(req), "file");
    const r = loadFileOrDirectory(o.allowedPath, file, bool(q(req), "fetch"));
    if (r === null) return ["Unknown resource"];
    if (r.kind === "raw") return reply.type("text/html").send(r.data);
    return r.value;
  });

  app.get("/v1/api/harmonization", async () => {
    try {
      return JSON.parse(readFileSync(o.paths.harmonizationConfFile, "utf8")) as unknown;
    } catch (err) {
      o.log.warn({ err }, `could not read ${o.paths.harmonizationConfFile}`);
      return {};
    }
  });

  app.get("/v1/api/runtime", async () => readRuntime(o.paths));
  const postRuntime = async (req: FastifyRequest, reply: FastifyReply) => {
    const problems = await writeRuntime(req.body, o.paths.runtimeConfFile).catch((err: unknown) => [errorMessage(err)]);
    if (problems.length) o.log.warn({ problems }, "refused a runtime configuration");
    // intelmq-api answers 200 with "success" or the error's text.
    return reply.type("text/plain; charset=utf-8").send(problems.length ? problems.join("\n") : "success");
  };
  app.post("/v1/api/runtime", postRuntime);
  app.post("/v1/api//runtime", postRuntime);

  app.get("/v1/api/positions", async () => {
    const f = positionsFile(o.paths);
    try {
      return JSON.parse(readFileSync(f, "utf8")) as unknown;
    } catch {
      return {};
    }
  });
  const postPositions = async (req: FastifyRequest, reply: FastifyReply) => {
    const f = positionsFile(o.paths);
    let text: string;
    try {
      if (!req.body || typeof req.body !== "object" || Array.isArray(req.body)) throw new Error("the positions must be a JSON object");
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, JSON.stringify(req.body, null, 4));
      text = "success";
    } catch (err) {
      text = errorMessage(err);
    }
    return reply.type("text/plain; charset=utf-8").send(text);
  };
  app.post("/v1/api/positions", postPositions);
  app.post("/v1/api//positions", postPositions);

  registerMonitorRoutes(app, { broker: o.broker, config, control: controlClient, log: o.log, invalid: (loc, message) => new InvalidParam(loc, message) });

  app.get("/metrics", async (_req, reply) => {
    await metrics.refresh();
    return reply.type(metrics.contentType).send(await metrics.text());
  });

  // The monitor page: static files of our own, no build step.
  const pub = join(dirname(fileURLToPath(import.meta.url)), "public");
  const srcPub = join(PROJECT_ROOT, "services", "api", "public");
  const pageDir = existsSync(pub) ? pub : srcPub;
  const page = (name: string, type: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    const f = join(pageDir, name);
    if (!existsSync(f)) return reply.code(404).send({ error: "Not Found" });
    return reply.type(type).send(readFileSync(f));
  };
  app.get("/", page("index.html", "text/html; charset=utf-8"));
  app.get("/monitor.js", page("monitor.js", "text/javascript; charset=utf-8"));

  return app;
}
