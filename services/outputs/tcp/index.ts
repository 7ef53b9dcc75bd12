// SPDX-License-Identifier: AGPL-3.0-only
/**
 * TCP output: sends each event as JSON over a TCP connection (IntelMQ's intelmq.bots.outputs.tcp.output),
 * framed by a 4-byte big-endian length or followed by `separator`. Towards IntelMQ's TCP collector
 * (counterpart_is_intelmq) every message is answered "Ok" and the flush waits for every answer;
 * frames are pipelined, and only those not yet answered are sent again after a failure.
 */
import { Socket } from "node:net";
import { ConfigurationError, defineBot, p, z, type BotContext, type Event, type OutputImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  ip: z.string().nullable().default(null).describe("Host to connect to (required)"),
  port: p.int().nullable().default(null).describe("Port to connect to (required)"),
  separator: z.string().nullable().default(null).describe("Written after each message; null: each message is prefixed by its length (4 bytes, big-endian)"),
  counterpart_is_intelmq: p.bool().default(true).describe("The peer is IntelMQ's TCP collector, which answers \"Ok\" to each message"),
  hierarchical_output: p.bool().default(false).describe("Nest fields at their dots"),
}).strict();

export type Params = z.infer<typeof params>;

const TIMEOUT_MS = 15_000;

function frame(json: string, separator: Buffer | null): Buffer {
  const data = Buffer.from(json, "utf8");
  if (separator) return Buffer.concat([data, separator]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** One connection: frames written, "Ok" answers counted. */
class Peer {
  readonly socket = new Socket();
  answers = Buffer.alloc(0);
  failure: Error | null = null;
  wake: (() => void) | null = null;
  constructor() {
    this.socket.setTimeout(TIMEOUT_MS, () => this.socket.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    this.socket.on("data", (d: Buffer) => { this.answers = Buffer.concat([this.answers, d]); this.wake?.(); });
    this.socket.on("error", (err) => { this.failure ??= err; this.wake?.(); });
    this.socket.on("close", () => { this.failure ??= new Error("connection closed"); this.wake?.(); });
  }
  open(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("error", reject);
      this.socket.connect(port, host);
    });
  }
  write(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(buf, (err) => (err ? reject(err) : resolve())));
  }
  async next(): Promise<string> {
    while (this.answers.length < 2) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
    const a = this.answers.subarray(0, 2).toString("latin1");
    this.answers = this.answers.subarray(2);
    return a;
  }
}

function create(prm: Params, ctx: BotContext): OutputImpl {
  if (!prm.ip) throw new ConfigurationError("ip", "is not set");
  if (prm.port === null) throw new ConfigurationError("port", "is not set");
  const host = prm.ip, port = prm.port;
  const separator = prm.separator === null || prm.separator === "" ? null : Buffer.from(prm.separator, "utf8");
  let peer: Peer | null = null;
  let pending: Buffer[] = [];
  const connect = async () => {
    if (peer && !peer.failure) return peer;
    peer?.socket.destroy();
    peer = null;
    const p = new Peer();
    try {
      await p.open(host, port);
    } catch (err) {
      p.socket.destroy();
      throw err;
    }
    ctx.log.info(`Connected successfully to ${host}:${port}.`);
    return (peer = p);
  };
  const drop = () => { peer?.socket.destroy(); peer = null; };
  return {
    export(event: Event) {
      pending.push(frame(event.toJson({ hierarchical: prm.hierarchical_output }), separator));
    },
    async flush() {
      const p = await connect();
      try {
        const written = p.write(Buffer.concat(pending));
        if (!prm.counterpart_is_intelmq) {
          await written;
          pending = [];
          return;
        }
        written.catch(() => undefined); // a failed write shows as a failure of the answers
        while (pending.length) {
          const answer = await p.next();
          if (answer !== "Ok") throw new Error(`Message not delivered: the peer answered ${JSON.stringify(answer)}`);
          pending.shift(); // answered: never sent again
        }
      } catch (err) {
        drop();
        throw err;
      }
    },
    discard() { pending = []; },
    shutdown() { drop(); },
  };
}

export default defineBot({
  kind: "output",
  name: "tcp",
  intelmq: "intelmq.bots.outputs.tcp.output",
  description: "Send events as JSON over TCP (to IntelMQ's TCP collector, Splunk, Logstash...)",
  params,
  create,
});
