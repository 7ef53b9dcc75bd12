// SPDX-License-Identifier: AGPL-3.0-only
/**
 * TCP collector: listens on a port for IntelMQ's TCP framing (a 4-byte big-endian length, then
 * the message), each message a report, answered "Ok" once that report is stored by the broker
 * (IntelMQ's intelmq.bots.collectors.tcp.collector, the counterpart of its TCP output). Answers go
 * in the order of the messages, so a sender that counts its "Ok"s knows what arrived.
 */
import { createServer, type Server, type Socket } from "node:net";
import { z } from "zod";
import { collectorParams, defineBot, p, ReportStream, ConfigurationError, errorMessage, type BotContext, type CollectorImpl } from "../../../shared/sdk/index.js";

export const params = z.object({
  ...collectorParams,
  ip: z.string().describe("Address to listen on, e.g. 127.0.0.1 or 0.0.0.0"),
  port: p.int().pipe(z.number().int().min(0).max(65535)).describe("TCP port to listen on"),
  max_message_bytes: p.int().pipe(z.number().int().positive()).default(64 * 1024 * 1024)
    .describe("Ours: a frame announcing more is refused (\"Too large\") and the connection closed"),
}).strict();

export type Params = z.infer<typeof params>;

/** One connection: frames in, "Ok" out in frame order once each frame's report is queued. */
class Connection {
  #buf: Buffer = Buffer.alloc(0);
  /** settled flags of the frames not yet answered, in order */
  readonly #open: { done: boolean }[] = [];
  #closed = false;

  constructor(private readonly sock: Socket, private readonly onFrame: (frame: Buffer, settle: { queued(): void; failed(err: unknown): void }) => void,
    private readonly max: number, private readonly ctx: BotContext) {
    sock.on("data", (d: Buffer) => this.#data(d));
    sock.on("end", () => {
      if (this.#buf.length > 0) {
        ctx.log.warn({ remote: sock.remoteAddress, bytes: this.#buf.length }, "Incomplete message received.");
        this.#write("Incomplete message");
      } else this.#write("End");
      this.#closed = true;
      sock.end();
    });
    sock.on("error", () => { this.#closed = true; });
  }

  #write(text: string): void {
    if (!this.#closed && this.sock.writable) this.sock.write(text);
  }

  #data(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      if (this.#buf.length < 4) return;
      const len = this.#buf.readUInt32BE(0);
      if (len > this.max) {
        this.ctx.log.warn({ remote: this.sock.remoteAddress, announced: len }, `A message over max_message_bytes (${this.max}) was refused; closing the connection.`);
        this.#write("Too large");
        this.#closed = true;
        this.sock.destroySoon();
        return;
      }
      if (this.#buf.length < 4 + len) return;
      const frame = Buffer.from(this.#buf.subarray(4, 4 + len));
      this.#buf = this.#buf.subarray(4 + len);
      const slot = { done: false };
      this.#open.push(slot);
      this.onFrame(frame, {
        queued: () => { slot.done = true; this.#flush(); },
        failed: (err) => {
          this.ctx.log.error(`A message could not be queued: ${errorMessage(err)}; closing the connection.`);
          this.#closed = true;
          this.sock.destroy();
        },
      });
    }
  }

  #flush(): void {
    while (this.#open.length && this.#open[0]!.done) {
      this.#open.shift();
      this.#write("Ok");
    }
  }
}

function create(prm: Params, ctx: BotContext): Promise<CollectorImpl> {
  const stream = new ReportStream();
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    new Connection(sock, (frame, settle) => {
      const report = ctx.newReport();
      report.add("raw", frame);
      stream.push(report, settle);
    }, prm.max_message_bytes, ctx);
  });
  return new Promise<CollectorImpl>((resolve, reject) => {
    server.once("error", (err) => reject(new ConfigurationError("port", `cannot listen on ${prm.ip}:${prm.port}: ${errorMessage(err)}`, { cause: err })));
    server.listen(prm.port, prm.ip, () => {
      ctx.log.info(`Connected successfully to ${prm.ip}:${prm.port}.`);
      resolve({
        streaming: true,
        collect: (signal) => stream.drain(signal),
        queued: (r) => stream.queued(r),
        failed: (r, err) => stream.failed(r, err),
        shutdown: async () => {
          stream.close(new Error("the collector stopped"));
          for (const s of sockets) s.destroy();
          await new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}

export default defineBot({
  kind: "collector",
  name: "tcp",
  intelmq: "intelmq.bots.collectors.tcp.collector",
  description: "Receives length-framed messages over TCP (IntelMQ's TCP output), each a report, answered Ok once queued",
  params,
  create,
});
