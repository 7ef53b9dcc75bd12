// SPDX-License-Identifier: AGPL-3.0-only
/** A loopback HTTP server handing out fixed bodies by path, for --update-database tests. */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";

export interface FileServer {
  readonly base: string;
  /** Headers of the requests so far. */
  readonly requests: { url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function serveFiles(routes: Record<string, [number, string | Uint8Array]>): Promise<FileServer> {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const srv = createServer((req, res) => {
    requests.push({ url: req.url ?? "", headers: req.headers });
    const r = routes[req.url ?? ""] ?? [404, "not found"];
    res.writeHead(r[0]);
    res.end(r[1]);
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  return {
    base: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    requests,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}
