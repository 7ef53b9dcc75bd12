// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A small STOMP 1.2 (and 1.1) client over TCP or TLS: CONNECT, SUBSCRIBE with client-individual
 * acknowledgement, MESSAGE, ACK/NACK, heart-beats. What the STOMP collector needs, no more.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { EventEmitter } from "node:events";

export interface Frame { command: string; headers: Record<string, string>; body: Buffer }

export interface StompOptions {
  host: string;
  port: number;
  /** TLS options; null: plain TCP. */
  tls: ConnectionOptions | null;
  /** CONNECT's host header (the virtual host). */
  vhost: string;
  login?: string;
  passcode?: string;
  /** Heart-beat interval we offer and ask for, in ms (0: none). */
  heartbeatMs: number;
  connectTimeoutMs?: number;
}

const escapes: Record<string, string> = { "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\c": ":" };
const unescape = (v: string) => v.replace(/\\[\\nrc]/g, (m) => escapes[m]!);
const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/:/g, "\\c");

export function encodeFrame(command: string, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): Buffer {
  const esc = command === "CONNECT" ? (v: string) => v : escape;
  let head = command + "\n";
  for (const [k, v] of Object.entries(headers)) head += `${esc(k)}:${esc(v)}\n`;
  if (body.length) head += `content-length:${body.length}\n`;
  return Buffer.concat([Buffer.from(head + "\n"), body, Buffer.from([0])]);
}

/** Frames out of a byte stream; heart-beat EOLs between frames are skipped. */
export class FrameParser {
  #buf: Buffer = Buffer.alloc(0);

  push(data: Buffer): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, data]) : data;
    const out: Frame[] = [];
    for (;;) {
      let start = 0;
      while (start < this.#buf.length && (this.#buf[start] === 0x0a || this.#buf[start] === 0x0d)) start++;
      this.#buf = this.#buf.subarray(start);
      const headEnd = this.#buf.indexOf("\n\n");
      const crlfEnd = this.#buf.indexOf("\r\n\r\n");
      const [end, sep] = crlfEnd !== -1 && (headEnd === -1 || crlfEnd < headEnd) ? [crlfEnd, 4] : [headEnd, 2];
      if (end === -1) return out;
      const lines = this.#buf.subarray(0, end).toString("utf8").split(/\r?\n/);
      const command = lines.shift()!;
      const headers: Record<string, string> = {};
      const raw = command === "CONNECTED";
      for (const line of lines) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = raw ? line.slice(0, i) : unescape(line.slice(0, i));
        if (!(k in headers)) headers[k] = raw ? line.slice(i + 1) : unescape(line.slice(i + 1)); // the first of a repeated header counts
      }
      const bodyStart = end + sep;
      let bodyEnd: number;
      if (headers["content-length"] !== undefined) {
        bodyEnd = bodyStart + Number(headers["content-length"]);
        if (this.#buf.length < bodyEnd + 1) return out;
      } else {
        bodyEnd = this.#buf.indexOf(0, bodyStart);
        if (bodyEnd === -1) return out;
      }
      out.push({ command, headers, body: Buffer.from(this.#buf.subarray(bodyStart, bodyEnd)) });
      this.#buf = this.#buf.subarray(bodyEnd + 1);
    }
  }
}

/** One STOMP connection. Emits "message" (Frame), "server-error" (an ERROR Frame), "close" (Error | null). */
export class StompConnection extends EventEmitter {
  #sock: Socket | null = null;
  #version = "1.2";
  #timers: NodeJS.Timeout[] = [];
  #lastIn = Date.now();
  #closed = false;

  constructor(private readonly opts: StompOptions) { super(); }

  get version(): string { return this.#version; }

  /** Connects and logs in; rejects on an ERROR frame, a timeout or a closed socket. */
  async open(): Promise<void> {
    const o = this.opts;
    const sock = o.tls ? tlsConnect({ host: o.host, port: o.port, servername: o.host, ...o.tls }) : netConnect(o.port, o.host);
    this.#sock = sock;
    const parser = new FrameParser();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no CONNECTED from ${o.host}:${o.port} in time`)), o.connectTimeoutMs ?? 30_000);
      let connected = false;
      const fail = (err: Error) => {
        clearTimeout(timer);
        if (!connected) { sock.destroy(); reject(err); } else this.#close(err);
      };
      sock.once(o.tls ? "secureConnect" : "connect", () => {
        const headers: Record<string, string> = { "accept-version": "1.2,1.1", host: o.vhost, "heart-beat": `${o.heartbeatMs},${o.heartbeatMs}` };
        if (o.login !== undefined) headers.login = o.login;
        if (o.passcode !== undefined) headers.passcode = o.passcode;
        sock.write(encodeFrame("CONNECT", headers));
      });
      sock.on("data", (d: Buffer) => {
        this.#lastIn = Date.now();
        let frames: Frame[];
        try {
          frames = parser.push(d);
        } catch (err) {
          fail(err as Error);
          return;
        }
        for (const f of frames) {
          if (!connected) {
            if (f.command === "CONNECTED") {
              connected = true;
              clearTimeout(timer);
              this.#version = f.headers.version ?? "1.0";
              this.#startHeartbeats(f.headers["heart-beat"] ?? "0,0");
              resolve();
            } else {
              fail(new Error(`STOMP server refused the connection: ${f.headers.message ?? f.command} ${f.body.toString("utf8").trim()}`.trim()));
              return;
            }
          } else if (f.command === "MESSAGE") this.emit("message", f);
          else if (f.command === "ERROR") this.emit("server-error", f);
        }
      });
      sock.on("error", (err) => fail(err));
      sock.on("close", () => {
        if (!connected) fail(new Error(`connection to ${o.host}:${o.port} closed`));
        else this.#close(new Error("connection closed"));
      });
    });
  }

  #startHeartbeats(server: string): void {
    const [sx = 0, sy = 0] = server.split(",").map((x) => Number(x) || 0);
    const cx = this.opts.heartbeatMs, cy = this.opts.heartbeatMs;
    if (cx > 0 && sy > 0) {
      const every = Math.max(cx, sy);
      this.#timers.push(setInterval(() => { if (this.#sock?.writable) this.#sock.write("\n"); }, every));
    }
    if (cy > 0 && sx > 0) {
      const expect = Math.max(cy, sx);
      this.#timers.push(setInterval(() => {
        if (Date.now() - this.#lastIn > 2 * expect) this.#close(new Error(`no heart-beat from the server for ${2 * expect} ms`));
      }, expect));
    }
  }

  #close(err: Error | null, farewell?: Buffer): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    const sock = this.#sock;
    if (farewell && sock?.writable) {
      sock.end(farewell);
      setTimeout(() => sock.destroy(), 1000).unref();
    } else sock?.destroy();
    this.emit("close", err);
  }

  get isOpen(): boolean { return !this.#closed && !!this.#sock?.writable; }

  send(command: string, headers: Record<string, string>): boolean {
    if (!this.isOpen) return false;
    this.#sock!.write(encodeFrame(command, headers));
    return true;
  }

  subscribe(id: string, destination: string, extra: Record<string, string> = {}): void {
    this.send("SUBSCRIBE", { id, destination, ack: "client-individual", ...extra });
  }

  /** ACK or NACK a MESSAGE frame; false when the connection is gone (the server redelivers it). */
  settle(frame: Frame, ok: boolean): boolean {
    const h = frame.headers;
    const headers: Record<string, string> = this.#version === "1.2" ? { id: h.ack ?? h["message-id"] ?? "" } : { "message-id": h["message-id"] ?? "", subscription: h.subscription ?? "" };
    return this.send(ok ? "ACK" : "NACK", headers);
  }

  /** DISCONNECT and close. */
  close(): void {
    this.#close(null, encodeFrame("DISCONNECT", {}));
  }
}
