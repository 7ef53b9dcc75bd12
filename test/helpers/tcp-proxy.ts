// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A TCP proxy on 127.0.0.1 in front of a real server (a database, a mail server), for tests
 * that take the server away: down() closes the listener and cuts every connection (a server
 * that crashed or a network that broke), up() listens again on the same port.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { freePort } from "./nats-server.js";

export class TcpProxy {
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  /** Connections made through the proxy so far. */
  connections = 0;

  private constructor(readonly port: number, readonly targetHost: string, readonly targetPort: number) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), targetHost, targetPort);
    await p.up();
    return p;
  }

  get isUp(): boolean { return this.#server !== null; }

  async up(): Promise<void> {
    if (this.#server) return;
    // Without noDelay each side holds a small write until the last one is acknowledged, and
    // loopback acknowledges late: 40 ms per request/answer turn that a direct connection does not wait.
    const server = createServer({ noDelay: true }, (client) => {
      this.connections++;
      const upstream = connect({ port: this.targetPort, host: this.targetHost, noDelay: true });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drop every open connection and refuse new ones (the port is closed). */
  cut(): Promise<void> { return this.down(); }
  /** Listen again on the same port. */
  restore(): Promise<void> { return this.up(); }
  close(): Promise<void> { return this.down(); }
}

/** A proxy listening on a free port of 127.0.0.1 in front of targetHost:targetPort. */
export function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  return TcpProxy.start(targetPort, targetHost);
}
