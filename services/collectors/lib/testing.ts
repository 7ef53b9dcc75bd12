// SPDX-License-Identifier: AGPL-3.0-only
/**
 * For the tests of the API collectors: a loopback HTTP server playing the vendor's API, and a
 * collector in library mode whose rounds return what the broker stored (a report the broker took
 * as a duplicate of one of the same round is not counted twice; a report sent again is).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLibraryBot, type BotDefinition } from "../../../shared/sdk/index.js";

type LibraryBot = Awaited<ReturnType<typeof createLibraryBot>>;

export interface PeerRequest { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer }
export type PeerHandler = (req: PeerRequest, res: ServerResponse) => unknown;

export interface Peer {
  readonly url: string;
  readonly requests: PeerRequest[];
  handler: PeerHandler;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 (a free port) answering with `handler` (replaceable). */
export async function startPeer(handler: PeerHandler): Promise<Peer> {
  const requests: PeerRequest[] = [];
  const peer = { handler } as Peer & { handler: PeerHandler };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      Promise.resolve(peer.handler(r, res)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  Object.assign(peer, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  });
  return peer;
}

export function json(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

export interface Collected {
  /** Reports the broker stored this round (flat dicts), in order. */
  reports: Record<string, unknown>[];
  /** Publishes the broker refused as duplicates this round. */
  duplicates: number;
  failures: number;
}

export interface TestCollector {
  round(): Promise<Collected>;
  readonly bot: LibraryBot;
  shutdown(): Promise<void>;
}

/** The collector in library mode; error_max_retries 0 unless given (a failed round is not retried). */
export async function testCollector(def: BotDefinition, params: Record<string, unknown>): Promise<TestCollector> {
  const bot = await createLibraryBot(def, { params: { error_max_retries: 0, error_retry_delay: 0, ...params } });
  const queues = bot.broker.queues as unknown as { accept(q: string, d: Uint8Array, o?: { msgId?: string }): boolean };
  const accept = queues.accept.bind(queues);
  let taken: boolean[] = [];
  queues.accept = (q, d, o) => {
    const ok = accept(q, d, o);
    taken.push(ok);
    return ok;
  };
  let failuresBefore = 0;
  return {
    bot,
    async round() {
      taken = [];
      const out = await bot.process();
      const all = out.output._default ?? [];
      // the tap lists every confirmed publish, duplicates too: keep those the broker took
      const reports = all.filter((_r, i) => taken[i] !== false);
      const failures = bot.stats().failure - failuresBefore;
      failuresBefore = bot.stats().failure;
      return { reports, duplicates: taken.filter((t) => !t).length, failures };
    },
    shutdown: () => bot.shutdown(),
  };
}

export const unb64 = (s: unknown): string => Buffer.from(String(s), "base64").toString("utf8");
