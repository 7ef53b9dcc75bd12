// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A loopback TCP proxy in front of a real server, for tests of a peer that fails mid-transfer:
 * while armed, a connection is cut (both sides destroyed) once the server sent it `afterBytes`
 * bytes. Disarmed, it passes everything through.
 */
import { createServer, connect, type AddressInfo, type Socket } from "node:net";

export interface CutProxy extends AsyncDisposable {
  readonly port: number;
  /**
   * Cut each new connection after the server sent it this many bytes (null: pass through); with
   * `times`, only that many connections, then pass through again.
   */
  cutAfter(bytes: number | null, times?: number): void;
  /** Connections cut so far. */
  readonly cuts: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<CutProxy> {
  let limit: number | null = null;
  let remaining = Infinity;
  let cuts = 0, connections = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, targetHost);
    open.add(client); open.add(upstream);
    const myLimit = limit;
    let sent = 0;
    let isCut = false;
    const cut = () => { client.destroy(); upstream.destroy(); };
    client.on("data", (d: Buffer) => upstream.write(d));
    upstream.on("data", (d: Buffer) => {
      if (isCut) return;
      if (myLimit === null) { client.write(d); return; }
      const room = myLimit - sent;
      if (room > 0) client.write(d.subarray(0, room));
      sent += d.length;
      if (sent >= myLimit) {
        isCut = true;
        cuts++;
        if (--remaining <= 0) limit = null;
        cut();
      }
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    for (const s of [client, upstream]) {
      s.on("error", cut);
      s.on("close", () => { open.delete(s); cut(); });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const close = async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port: (server.address() as AddressInfo).port,
    cutAfter(bytes, times = Infinity) { limit = bytes; remaining = times; },
    get cuts() { return cuts; },
    get connections() { return connections; },
    close,
    [Symbol.asyncDispose]: close,
  };
}
