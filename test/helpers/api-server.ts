// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A loopback HTTP server (127.0.0.1, a free port) playing a vendor's web API in tests of the
 * experts that query one. It records every request; a handler answers each.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

/** What a handler returns: status and body (objects are sent as JSON), or "hang" to never answer. */
export type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | "hang";

export interface ApiServer {
  /** http://127.0.0.1:<port> (no trailing slash) */
  readonly url: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startApiServer(handler: (req: SeenRequest) => Answer | Promise<Answer>): Promise<ApiServer> {
  const requests: SeenRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      const seen: SeenRequest = { method: req.method ?? "GET", url: req.url ?? "/", path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(seen);
      void Promise.resolve(handler(seen)).then((a) => {
        if (a === "hang") { hanging.add(res); return; }
        const body = a.body === undefined ? "" : typeof a.body === "string" ? a.body : JSON.stringify(a.body);
        res.writeHead(a.status ?? 200, { "content-type": typeof a.body === "string" ? "text/plain" : "application/json", ...a.headers });
        res.end(body);
      }, (err: unknown) => { res.writeHead(500); res.end(String(err)); });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
