// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A loopback HTTP server playing a vendor's API in a test: every request is recorded (method,
 * path with query, headers, body text) and answered by the test's handler.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export interface PeerRequest { method: string; path: string; headers: IncomingHttpHeaders; body: string }
export interface PeerAnswer { status?: number; body?: unknown; headers?: Record<string, string> }
export type PeerHandler = (req: PeerRequest) => PeerAnswer | Promise<PeerAnswer>;

export interface HttpPeer { readonly url: string; readonly port: number; readonly requests: PeerRequest[]; close(): Promise<void> }

export async function startHttpPeer(handler: PeerHandler): Promise<HttpPeer> {
  const requests: PeerRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: PeerRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(r);
      void Promise.resolve(handler(r)).then((a) => {
        const body = a.body === undefined ? "" : typeof a.body === "string" ? a.body : JSON.stringify(a.body);
        res.writeHead(a.status ?? 200, { "content-type": typeof a.body === "string" ? "text/plain" : "application/json", ...a.headers });
        res.end(req.method === "HEAD" ? undefined : body);
      }, (err: unknown) => { res.writeHead(500); res.end(String(err)); });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, port, requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
