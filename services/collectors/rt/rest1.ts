// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The part of Request Tracker's REST 1.0 API the RT collector uses (what IntelMQ's `rt` library
 * does): a login session by cookie, ticket search, attachments, history, take and edit. RT answers
 * `RT/<version> <status> <text>`, a blank line, then the body.
 */
import { ApiFormatError, joinUrl, type ApiClient } from "../lib/api-client.js";

export type RtTicket = Record<string, string>;

/** `key: value` lines with continuation lines (indented), as RT writes records. */
export function parseRecord(text: string): RtTicket {
  const out: Record<string, string[]> = {};
  let key: string | null = null;
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || (Object.keys(out).length === 0 && /^\S+ \d{3} /.test(line))) { key = null; continue; }
    if (/^\s/.test(line)) {
      if (key !== null) out[key]!.push(line.trimStart());
      continue;
    }
    const sep = line.startsWith("CF.{") ? "}: " : ": ";
    const i = line.indexOf(sep);
    if (i >= 0) {
      key = line.slice(0, i) + (sep === "}: " ? "}" : "");
      out[key] = [line.slice(i + sep.length)];
    } else if (line.endsWith(":")) {
      key = line.slice(0, -1);
      out[key] = [];
    } else {
      throw new ApiFormatError(`RT answered a line without a field name: ${line}`);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.join("\n")]));
}

function statusOf(text: string): number | null {
  const m = /^\S+ (\d{3})/.exec(text);
  return m ? Number(m[1]) : null;
}

export class RtSession {
  #cookie = "";
  constructor(private readonly http: ApiClient, private readonly base: string) {}

  async #call(path: string, form?: Record<string, string>, query?: Record<string, string>): Promise<Buffer> {
    const headers: Record<string, string> = {};
    if (this.#cookie) headers.cookie = this.#cookie;
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const res = await this.http.request(joinUrl(this.base, path), { method: form ? "POST" : "GET", headers, body, query });
    const set = res.headers["set-cookie"];
    const cookies = (Array.isArray(set) ? set : set ? [set] : []).map((c) => c.split(";")[0]!.trim()).filter((c) => c);
    if (cookies.length) this.#cookie = cookies.join("; ");
    const head = res.body.toString("utf8", 0, 300).split("\n");
    if (/ 401 Credentials required$/.test(head[0] ?? "")) throw new ApiFormatError("RT: credentials required (login failed or expired).");
    if (/^# You are not allowed to/.test(head[2] ?? "")) throw new ApiFormatError(`RT: ${head[2]!.slice(2)}`);
    if (/ 40\d /.test(head[0] ?? "")) throw new ApiFormatError(`RT refused ${path}: ${head.slice(0, 3).join(" / ")}`);
    return res.body;
  }

  async login(user: string, password: string): Promise<boolean> {
    return statusOf((await this.#call("", { user, pass: password })).toString("utf8")) === 200;
  }

  /** Tickets in long format (every field). */
  async search(query: string, orderby: string): Promise<RtTicket[]> {
    const text = (await this.#call("search/ticket", undefined, { query, orderby, format: "l" })).toString("utf8");
    const lines = text.split("\n");
    if (lines.length > 2 && lines[2]!.startsWith("Invalid query: ")) throw new ApiFormatError(`RT: ${lines[2]}`);
    if (lines.length > 2 && lines[2]!.startsWith("No matching results.")) return [];
    return text.split("\n--\n").map((t) => parseRecord(t)).filter((t) => t.id?.startsWith("ticket/"));
  }

  /** [id, name, type, size] of each attachment. */
  async attachments(ticket: number): Promise<[string, string, string, string][]> {
    const lines = (await this.#call(`ticket/${ticket}/attachments`)).toString("utf8").split("\n");
    const out: [string, string, string, string][] = [];
    if (statusOf(lines[0] ?? "") !== 200) return out;
    for (const line of lines.slice(3)) {
      const m = /[^0-9]*(\d+): (.+) \((.+) \/ (.+)\),?$/.exec(line);
      if (m) out.push([m[1]!, m[2]!, m[3]!, m[4]!]);
    }
    return out;
  }

  /** The attachment's metadata (Created, ...), its Content left out. */
  async attachment(ticket: number, id: string): Promise<RtTicket> {
    const text = (await this.#call(`ticket/${ticket}/attachments/${id}`)).toString("utf8");
    const head = text.split("\nContent:")[0]!;
    return parseRecord(head.split("\nHeaders:")[0]!);
  }

  async attachmentContent(ticket: number, id: string): Promise<Buffer> {
    const msg = await this.#call(`ticket/${ticket}/attachments/${id}/content`);
    return msg.subarray(msg.indexOf(0x0a) + 2);
  }

  /** The ticket's history items, oldest first. */
  async history(ticket: number): Promise<RtTicket[]> {
    const text = (await this.#call(`ticket/${ticket}/history`, undefined, { format: "l" })).toString("utf8");
    return text.split("\n--\n").map((t) => parseRecord(t));
  }

  async take(ticket: number): Promise<boolean> {
    return statusOf((await this.#call(`ticket/${ticket}/take`, { content: `Ticket: ${ticket}\nAction: take` })).toString("utf8")) === 200;
  }

  async edit(ticket: number, fields: Record<string, string>): Promise<void> {
    const content = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("\n");
    await this.#call(`ticket/${ticket}/edit`, { content });
  }
}
