// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A small STOMP 1.2 client: CONNECT, SEND with a receipt asked for every frame, RECEIPT and
 * ERROR frames, heart-beats from our side. Enough for an output; subscriptions are not needed.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

export interface StompOptions {
  host: string;
  port: number;
  tls: ConnectionOptions | null;
  login?: string;
  passcode?: string;
  /** Heart-beat interval we offer and ask for (ms, 0: none). */
  heartbeat: number;
  /** Longest wait for CONNECTED or a receipt (ms). */
  timeoutMs: number;
}

interface Frame { command: string; headers: Record<string, string>; body: Buffer }

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/:/g, "\\c");
const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "r" ? "\r" : c === "n" ? "\n" : c === "c" ? ":" : c));

export class StompConnection {
  #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #waiting = new Map<string, { resolve(): void; reject(err: Error): void }>();
  #connected: { resolve(): void; reject(err: Error): void } | null = null;
  #next = 0;
  #beat: NodeJS.Timeout | null = null;
  #closed: Error | null = null;
  #serverBeat = "0,0";

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (d: Buffer) => this.#data(d));
    socket.on("error", (err) => this.#fail(err));
    socket.on("close", () => this.#fail(new Error("STOMP connection closed")));
  }

  get closed(): boolean { return this.#closed !== null; }

  static async open(o: StompOptions): Promise<StompConnection> {
    const socket = o.tls ? tlsConnect({ host: o.host, port: o.port, ...o.tls }) : tcpConnect(o.port, o.host);
    const c = new StompConnection(socket);
    const headers: Record<string, string> = { "accept-version": "1.2", host: "/", "heart-beat": `${o.heartbeat},0` };
    if (o.login !== undefined) headers.login = o.login;
    if (o.passcode !== undefined) headers.passcode = o.passcode;
    const connected = new Promise<void>((resolve, reject) => { c.#connected = { resolve, reject }; });
    socket.once(o.tls ? "secureConnect" : "connect", () => c.#write("CONNECT", headers));
    await c.#within(connected, o.timeoutMs, "CONNECTED");
    // The server said how often it wants to hear from us (its second number): at most that often, at least every o.heartbeat.
    const wants = Number(c.#serverBeat.split(",")[1] ?? 0);
    if (o.heartbeat > 0 && wants > 0) c.#beat = setInterval(() => { if (!c.closed) c.#socket.write("\n"); }, Math.max(o.heartbeat, wants)).unref();
    return c;
  }

  /** Send frames; resolves when the server gave a receipt for every one of them. */
  async send(destination: string, bodies: Buffer[], contentType: string, timeoutMs: number): Promise<void> {
    if (this.#closed) throw this.#closed;
    const receipts: Promise<void>[] = [];
    for (const body of bodies) {
      const id = `r-${this.#next++}`;
      receipts.push(new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject })));
      this.#write("SEND", { destination, "content-type": contentType, "content-length": String(body.length), receipt: id }, body);
    }
    await this.#within(Promise.all(receipts).then(() => undefined), timeoutMs, "receipts");
  }

  close(): void {
    if (this.#beat) clearInterval(this.#beat);
    if (!this.#closed) {
      this.#write("DISCONNECT", {});
      this.#socket.end();
    }
    this.#fail(new Error("STOMP connection closed by us"));
  }

  async #within(p: Promise<void>, ms: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no STOMP ${what} within ${ms} ms`)), ms); });
    try {
      await Promise.race([p, timeout]);
    } catch (err) {
      this.#socket.destroy();
      this.#fail(err as Error);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #write(command: string, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): void {
    const head = [command, ...Object.entries(headers).map(([k, v]) => `${escape(k)}:${command === "CONNECT" ? v : escape(v)}`), "", ""].join("\n");
    this.#socket.write(Buffer.concat([Buffer.from(head, "utf8"), body, Buffer.from([0])]));
  }

  #fail(err: Error): void {
    if (this.#beat) clearInterval(this.#beat);
    this.#closed ??= err;
    this.#connected?.reject(err);
    this.#connected = null;
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }

  #data(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      let start = 0;
      while (start < this.#buf.length && (this.#buf[start] === 10 || this.#buf[start] === 13)) start++; // heart-beats
      const headEnd = this.#buf.indexOf("\n\n", start);
      if (headEnd < 0) { this.#buf = this.#buf.subarray(start); return; }
      const lines = this.#buf.subarray(start, headEnd).toString("utf8").split(/\r?\n/);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        const k = unescape(l.slice(0, i));
        if (!(k in headers)) headers[k] = unescape(l.slice(i + 1));
      }
      const bodyStart = headEnd + 2;
      const len = headers["content-length"] !== undefined ? Number(headers["content-length"]) : this.#buf.indexOf(0, bodyStart) - bodyStart;
      if (len < 0 || this.#buf.length < bodyStart + len + 1) { this.#buf = this.#buf.subarray(start); return; }
      const frame: Frame = { command: lines[0]!.trim(), headers, body: this.#buf.subarray(bodyStart, bodyStart + len) };
      this.#buf = this.#buf.subarray(bodyStart + len + 1);
      this.#frame(frame);
    }
  }

  #frame(f: Frame): void {
    if (f.command === "CONNECTED") {
      this.#serverBeat = f.headers["heart-beat"] ?? "0,0";
      this.#connected?.resolve();
      this.#connected = null;
    } else if (f.command === "RECEIPT") {
      const id = f.headers["receipt-id"] ?? "";
      this.#waiting.get(id)?.resolve();
      this.#waiting.delete(id);
    } else if (f.command === "ERROR") {
      const err = new Error(`STOMP server error: ${f.headers.message ?? ""} ${f.body.toString("utf8").trim()}`.trim());
      this.#socket.destroy();
      this.#fail(err);
    }
  }
}
