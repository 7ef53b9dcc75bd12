// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The text bodies of a mail as IntelMQ's imbox lists them: every inline text/plain and text/html
 * part of the MIME tree, in order, each decoded (transfer encoding, charset) on its own. postal-mime
 * joins the parts and renders each type from the other, which the body collector must not send.
 */

export interface Bodies { plain: string[]; html: string[] }

interface Part { headers: Map<string, string>; body: Buffer }

/** Splits a header block + body; header names lower-cased, folded lines joined. */
function splitPart(buf: Buffer): Part {
  let end = buf.indexOf("\r\n\r\n");
  let sep = 4;
  const lf = buf.indexOf("\n\n");
  if (lf !== -1 && (end === -1 || lf < end)) { end = lf; sep = 2; }
  if (buf.length > 0 && (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a))) { end = 0; sep = buf[0] === 0x0a ? 1 : 2; }
  const head = end === -1 ? buf.toString("latin1") : buf.subarray(0, end).toString("latin1");
  const body = end === -1 ? Buffer.alloc(0) : buf.subarray(end + sep);
  const headers = new Map<string, string>();
  let last = "";
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) { headers.set(last, headers.get(last)! + " " + line.trim()); continue; }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    if (!headers.has(last)) headers.set(last, line.slice(i + 1).trim());
  }
  return { headers, body };
}

/** A header value's main token and parameters: `multipart/mixed; boundary="x"`. */
function parseValue(v: string | undefined): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (!v) return { value: "", params };
  const [first = "", ...rest] = v.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? [];
  for (const r of rest) {
    const i = r.indexOf("=");
    if (i < 0) continue;
    let val = r.slice(i + 1).trim();
    if (val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1).replace(/\\(.)/g, "$1");
    params.set(r.slice(0, i).trim().toLowerCase(), val);
  }
  return { value: first.trim().toLowerCase(), params };
}

function decodeQp(b: Buffer): Buffer {
  const s = b.toString("latin1").replace(/=\r?\n/g, "");
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) { out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

function decodeText(body: Buffer, encoding: string, charset: string): string {
  const enc = encoding.toLowerCase();
  const bytes = enc === "base64" ? Buffer.from(body.toString("latin1"), "base64") : enc === "quoted-printable" ? decodeQp(body) : body;
  try {
    return new TextDecoder(charset || "utf-8").decode(bytes);
  } catch {
    return bytes.toString("utf8"); // an unknown charset name
  }
}

/** The parts between the boundaries of a multipart body (the line end before a boundary is the boundary's). */
function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString("latin1");
  const parts: Buffer[] = [];
  const delim = "--" + boundary;
  let pos = text.startsWith(delim) ? 0 : text.indexOf("\n" + delim);
  if (pos === -1) return parts;
  if (pos > 0) pos += 1;
  for (;;) {
    const lineEnd = text.indexOf("\n", pos);
    if (text.startsWith(delim + "--", pos) || lineEnd === -1) break;
    const start = lineEnd + 1;
    const next = text.indexOf("\n" + delim, start - 1);
    if (next === -1) { parts.push(body.subarray(start)); break; }
    const end = next > 0 && text[next - 1] === "\r" ? next - 1 : next;
    parts.push(body.subarray(start, Math.max(start, end)));
    pos = next + 1;
  }
  return parts;
}

export function textBodies(source: Buffer): Bodies {
  const out: Bodies = { plain: [], html: [] };
  const walk = (buf: Buffer, depth: number): void => {
    const { headers, body } = splitPart(buf);
    const ct = parseValue(headers.get("content-type") ?? "text/plain");
    if (ct.value.startsWith("multipart/")) {
      const boundary = ct.params.get("boundary");
      if (boundary && depth < 20) for (const p of splitMultipart(body, boundary)) walk(p, depth + 1);
      return;
    }
    const disp = parseValue(headers.get("content-disposition"));
    if (disp.value === "attachment" || disp.params.has("filename") || ct.params.has("name")) return;
    const kind = ct.value === "text/plain" ? "plain" : ct.value === "text/html" ? "html" : null;
    if (!kind) return;
    out[kind].push(decodeText(body, headers.get("content-transfer-encoding") ?? "7bit", ct.params.get("charset") ?? "utf-8"));
  };
  walk(source, 0);
  return out;
}
