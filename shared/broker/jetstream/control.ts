// SPDX-License-Identifier: AGPL-3.0-only
/** Request/reply of the control plane on the same connection as the queues (core NATS, no JetStream). */
import { BrokerUnavailableError, errorMessage } from "../../errors/index.js";
import type { ControlTransport, RequestHandler, Service } from "../types.js";
import type { JsConnection } from "./connection.js";

export class JsControl implements ControlTransport {
  constructor(private readonly c: JsConnection) {}

  async serve(subject: string, handler: RequestHandler): Promise<Service> {
    const sub = this.c.nc.subscribe(subject, {
      callback: (_err, m) => {
        if (!m.reply) return;
        Promise.resolve()
          .then(() => handler(m.data, m.subject))
          .then((out) => m.respond(out), (err: unknown) => this.c.log.warn({ subject: m.subject, err: errorMessage(err) }, "control request failed"));
      },
    });
    // Requests sent right after serve() returns must find the subscription on the server.
    await this.c.nc.flush();
    return { stop: async () => { sub.unsubscribe(); } };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      const m = await this.c.nc.request(subject, data, { timeout: timeoutMs });
      return m.data;
    } catch (err) {
      throw new BrokerUnavailableError(`no reply on ${subject}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async requestMany(subject: string, data: Uint8Array, waitMs: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    try {
      const it = await this.c.nc.requestMany(subject, data, { strategy: "timer", maxWait: waitMs });
      for await (const m of it) {
        if (m.data.length === 0 && (m.headers?.code ?? 0) >= 300) break; // no responders
        out.push(m.data);
      }
    } catch (err) {
      if (/no responders/i.test(errorMessage(err))) return out;
      throw new BrokerUnavailableError(`requests on ${subject} failed: ${errorMessage(err)}`, { cause: err });
    }
    return out;
  }
}
