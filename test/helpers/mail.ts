// SPDX-License-Identifier: AGPL-3.0-only
/** Mails (RFC 5322 / MIME) and small zip archives made by tests. */
import { crc32 } from "node:zlib";

export interface MailSpec {
  from?: string;
  to?: string;
  subject: string;
  date?: string;
  messageId?: string;
  /** text/plain body */
  text?: string;
  /** text/html body */
  html?: string;
  attachments?: { name: string | null; data: Buffer | string; type?: string }[];
}

/** A MIME mail with CRLF line ends; attachments base64 encoded. */
export function buildMail(m: MailSpec): string {
  const b = "=-boundary-" + Math.random().toString(36).slice(2);
  const head = [
    `From: ${m.from ?? "Feed Sender <feeds@example.com>"}`,
    `To: ${m.to ?? "cert@example.net"}`,
    `Subject: ${m.subject}`,
    `Date: ${m.date ?? "Thu, 03 Dec 2026 10:00:00 +0000"}`,
    `Message-ID: ${m.messageId ?? `<${Math.random().toString(36).slice(2)}@example.com>`}`,
    "MIME-Version: 1.0",
  ];
  const parts: string[] = [];
  if (m.text !== undefined) parts.push(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${m.text}`);
  if (m.html !== undefined) parts.push(`Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${m.html}`);
  for (const a of m.attachments ?? []) {
    const data = Buffer.isBuffer(a.data) ? a.data : Buffer.from(a.data);
    const b64 = data.toString("base64").replace(/.{1,76}/g, "$&\r\n");
    const disp = a.name === null ? "attachment" : `attachment; filename="${a.name}"`;
    parts.push(`Content-Type: ${a.type ?? "application/octet-stream"}\r\nContent-Disposition: ${disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}`);
  }
  if (parts.length === 0) parts.push("Content-Type: text/plain\r\n\r\n");
  return [...head, `Content-Type: multipart/mixed; boundary="${b}"`, "", ...parts.map((p) => `--${b}\r\n${p}`), `--${b}--`, ""].join("\r\n");
}

/** A zip archive of stored (uncompressed) members. */
export function storedZip(files: Record<string, string | Buffer>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const n = Buffer.from(name);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(n.length, 28); ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, data);
    central.push(ch, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(Object.keys(files).length, 8); end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
