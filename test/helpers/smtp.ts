// SPDX-License-Identifier: AGPL-3.0-only
/**
 * A real SMTP server on 127.0.0.1 for the mail outputs' tests (the smtp-server package, which
 * speaks the whole protocol: EHLO, STARTTLS with its own test certificate, AUTH, DATA), keeping
 * every message it accepted. `reject` makes it answer the next RCPT TO with a code.
 */
import { SMTPServer } from "smtp-server";
import { freePort } from "./nats-server.js";

export interface ReceivedMail { from: string; to: string[]; raw: string; secure: boolean; user?: string }

export class TestSmtpServer {
  readonly mails: ReceivedMail[] = [];
  /** Answer RCPT TO with this code (e.g. 451 or 550) while set. */
  reject: number | null = null;
  #server: SMTPServer | null = null;

  private constructor(readonly port: number, private readonly opts: { auth?: { user: string; pass: string }; secure?: boolean }) {}

  static async start(opts: { auth?: { user: string; pass: string }; secure?: boolean } = {}): Promise<TestSmtpServer> {
    const s = new TestSmtpServer(await freePort(), opts);
    await s.up();
    return s;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const auth = this.opts.auth;
    const server = new SMTPServer({
      secure: this.opts.secure ?? false,
      authOptional: !auth,
      disabledCommands: auth ? [] : ["AUTH"],
      allowInsecureAuth: true,
      logger: false,
      onAuth: (a, _session, cb) => {
        if (auth && a.username === auth.user && a.password === auth.pass) cb(null, { user: a.username });
        else cb(new Error("Invalid username or password"));
      },
      onRcptTo: (_address, _session, cb) => {
        if (this.reject === null) { cb(); return; }
        cb(Object.assign(new Error(`rejected for the test (${this.reject})`), { responseCode: this.reject }));
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("utf8"),
            secure: session.secure,
            user: typeof session.user === "string" ? session.user : undefined,
          });
          cb();
        });
      },
    });
    server.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
  }

  /** Stops listening and drops the connections (a mail server that went away). */
  async down(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** The decoded parts of a MIME message (text of each part, base64 decoded), with their headers; a single-part message is one part. */
export function mimeParts(raw: string): { headers: string; body: string }[] {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  const parts = boundary ? raw.split(`--${boundary}`).slice(1, -1) : [raw];
  return parts.map((part) => {
    const at = part.search(/\r?\n\r?\n/);
    const headers = part.slice(0, at).trim();
    // in a multipart message the line break before a boundary belongs to the boundary
    let body = part.slice(at).replace(/^\r?\n\r?\n/, "");
    if (boundary) body = body.replace(/\r?\n$/, "");
    if (/Content-Transfer-Encoding: base64/i.test(headers)) body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    else if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
      body = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      body = Buffer.from(body, "latin1").toString("utf8");
    }
    return { headers, body: body.replace(/\r\n/g, "\n") };
  });
}

/** A header's value (unfolded). */
export function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, " ");
  return new RegExp(`^${name}: (.*)$`, "im").exec(head)?.[1];
}
