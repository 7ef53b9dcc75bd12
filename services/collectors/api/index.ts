// SPDX-License-Identifier: AGPL-3.0-only
/**
 * API collector: an HTTP endpoint (POST /intelmq/push) whose request bodies become reports
 * (IntelMQ's intelmq.bots.collectors.api.collector_api). The request is answered only once its
 * report is stored by the broker (200), so a sender that got no answer can safely send again.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { collectorParams, defineBot, p, ReportStream, ConfigurationError, type BotContext, type CollectorImpl, errorMessage } from "../../../shared/sdk/index.js";

export const PUSH_PATH = "/intelmq/push";

export const params = z.object({
  ...collectorParams,
  name: z.string().nullable().default("API").describe("feed.name of the reports"),
  provider: z.string().nullable().default("APICollector").describe("feed.provider of the reports"),
  port: p.int().pipe(z.number().int().min(0).max(65535)).default(5000).describe("TCP port to listen on (0: any free port, logged at start)"),
  host: z.string().default("127.0.0.1").describe("Ours: address to listen on; IntelMQ listens on every address, set 0.0.0.0 or :: for that"),
  use_socket: p.bool().default(false).describe("Listen on a Unix socket (socket_path) instead of TCP"),
  socket_path: z.string().default("/tmp/imq_api_default_socket").describe("The Unix socket with use_socket"),
  socket_perms: z.string().regex(/^[0-7]{3,4}$/).default("600").describe("Octal permissions of the Unix socket"),
  socket_group: z.string().default("").describe("Group that owns the Unix socket (empty: unchanged)"),
  api_token: p.secret(z.string().nullable().default(null))
    .describe("Ours: the token a request must carry (Authorization: Bearer <token>, or X-Api-Key); null: none required"),
  max_body_bytes: p.int().pipe(z.number().int().positive()).default(16 * 1024 * 1024)
    .describe("Ours: a larger request body is refused with 413 and nothing is queued"),
}).strict();

export type Params = z.infer<typeof params>;

function sameToken(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

function tokenOf(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  const key = req.headers["x-api-key"];
  return typeof key === "string" ? key : null;
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
  res.end(text + "\n");
}

function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  const stream = new ReportStream();
  let stopping = false;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== PUSH_PATH) return answer(res, 404, `not found: POST reports to ${PUSH_PATH}`);
    if (req.method !== "POST") { res.setHeader("allow", "POST"); return answer(res, 405, "only POST"); }
    if (prm.api_token !== null) {
      const given = tokenOf(req);
      if (given === null || !sameToken(given, prm.api_token)) {
        ctx.log.warn({ remote: req.socket.remoteAddress }, "Refused a push without a valid token.");
        res.setHeader("www-authenticate", "Bearer");
        return answer(res, 401, "a valid token is required");
      }
    }
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > prm.max_body_bytes) {
      answer(res, 413, `the body is over ${prm.max_body_bytes} bytes`);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > prm.max_body_bytes) {
        refused = true;
        chunks.length = 0;
        answer(res, 413, `the body is over ${prm.max_body_bytes} bytes`);
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (refused) return;
      if (stopping) return answer(res, 503, "the collector is stopping; send again later");
      const body = Buffer.concat(chunks);
      if (body.length === 0) return answer(res, 400, "the body is empty: nothing to report");
      const report = ctx.newReport();
      report.add("raw", body);
      stream.push(report, {
        queued: () => answer(res, 200, "queued"),
        failed: (err) => answer(res, 503, `not queued: ${errorMessage(err)}`),
      });
    });
    req.on("error", () => { refused = true; });
  };

  const server: Server = createServer(handle);
  server.requestTimeout = 120_000;
  return new Promise<CollectorImpl>((resolve, reject) => {
    server.once("error", (err) => reject(new ConfigurationError(prm.use_socket ? "socket_path" : "port", `cannot listen: ${errorMessage(err)}`, { cause: err })));
    const listening = () => {
      if (prm.use_socket) {
        chmodSync(prm.socket_path, parseInt(prm.socket_perms, 8));
        if (prm.socket_group) chownSync(prm.socket_path, -1, groupId(prm.socket_group));
        ctx.log.info(`Listening on ${prm.socket_path}${PUSH_PATH}.`);
      } else {
        const a = server.address();
        ctx.log.info({ port: typeof a === "object" && a ? a.port : prm.port }, `Listening on http://${prm.host}:${typeof a === "object" && a ? a.port : prm.port}${PUSH_PATH}.`);
      }
      resolve({
        streaming: true,
        collect: (signal) => stream.drain(signal),
        queued: (r) => stream.queued(r),
        failed: (r, err) => stream.failed(r, err),
        shutdown: async () => {
          stopping = true;
          stream.close(new Error("the collector stopped"));
          await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
          if (prm.use_socket && existsSync(prm.socket_path)) unlinkSync(prm.socket_path);
        },
      });
    };
    if (prm.use_socket) {
      if (existsSync(prm.socket_path)) unlinkSync(prm.socket_path);
      server.listen(prm.socket_path, listening);
    } else server.listen(prm.port, prm.host, listening);
  });
}

/** A group name (or number) as its id. */
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    return Number(execFileSync("getent", ["group", group], { encoding: "utf8" }).split(":")[2]);
  } catch {
    throw new ConfigurationError("socket_group", `no group ${JSON.stringify(group)}`);
  }
}

export default defineBot({
  kind: "collector",
  name: "api",
  intelmq: "intelmq.bots.collectors.api.collector_api",
  description: "Receives reports over HTTP (POST /intelmq/push), answering once each is queued",
  params,
  create,
});
