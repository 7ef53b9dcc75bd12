// SPDX-License-Identifier: AGPL-3.0-only
/** The logs stream (subject intelmq.log.<bot-id>, bounded per bot, by age and in bytes): `intelmqctl log` from any host. */
import { nanos } from "@nats-io/transport-node";
import { DiscardPolicy } from "@nats-io/jetstream";
import { DEFAULTS, LOGS_STREAM, logSubject } from "../names.js";
import type { LogStore } from "../types.js";
import type { JsConnection } from "./connection.js";

export class JsLogs implements LogStore {
  #ready: Promise<void> | null = null;
  /** The stream exists: lines are published as they come. */
  #ok = false;
  /** Lines that came while the stream was being made sure of (bounded). */
  #backlog: [string, string][] = [];
  readonly #subjects = new Map<string, string>();

  constructor(private readonly c: JsConnection) {}

  #stream(): Promise<void> {
    if (!this.#ready) {
      const p = this.c.limitsStream({
        name: LOGS_STREAM,
        description: "IntelMQ logs: pino lines of every bot",
        subjects: ["intelmq.log.>"],
        max_msgs_per_subject: DEFAULTS.logsMaxPerBot,
        max_age: nanos(DEFAULTS.logsMaxAgeMs),
        max_bytes: this.c.limits.logsMaxBytes,
        discard: DiscardPolicy.Old,
      }, this.c.given.logsMaxBytes !== undefined);
      this.#ready = p;
      p.then(() => {
        this.#ok = true;
        const backlog = this.#backlog;
        this.#backlog = [];
        for (const [subject, line] of backlog) this.#send(subject, line);
      }, () => {
        if (this.#ready !== p) return;
        this.#ready = null;
        // Lines are waiting: try again later rather than only on the next line.
        if (this.#backlog.length > 0) setTimeout(() => { if (this.c.state === "connected") void this.#stream().catch(() => undefined); }, 1000).unref();
      });
    }
    return this.#ready;
  }

  #send(subject: string, line: string): void {
    if (this.c.state !== "connected") return;
    try {
      this.c.nc.publish(subject, line);
    } catch {
      // Closed, draining or too large: a log line is not worth an error in the caller.
    }
  }

  append(botId: string, line: string): void {
    if (this.c.state !== "connected") return;
    let subject = this.#subjects.get(botId);
    if (subject === undefined) {
      try { subject = logSubject(botId); } catch { return; }
      this.#subjects.set(botId, subject);
    }
    const text = line.endsWith("\n") ? line.slice(0, -1) : line;
    if (this.#ok) {
      this.#send(subject, text);
      return;
    }
    // The stream is not there yet: keep the first lines until it is, then send them.
    if (this.#backlog.length < 1000) this.#backlog.push([subject, text]);
    void this.#stream().catch(() => undefined);
  }

  async read(botId: string, max: number): Promise<string[]> {
    if (!(max > 0)) return [];
    const subject = logSubject(botId);
    const out: string[] = [];
    try {
      await this.#stream();
      const si = await this.c.jsm.streams.info(LOGS_STREAM, { subjects_filter: subject });
      const total = si.state.subjects?.[subject] ?? 0;
      if (total === 0) return out;
      // An ordered consumer reads the bot's lines once, oldest first, and leaves nothing behind.
      const oc = await this.c.js.consumers.get(LOGS_STREAM, { filter_subjects: subject });
      const it = await oc.consume({ max_messages: Math.min(total, 1000) });
      try {
        for await (const m of it) {
          out.push(m.string());
          if (m.info.pending === 0) break;
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw this.c.wrap(`read logs of ${botId}`, err);
    }
    return out.length > max ? out.slice(out.length - max) : out;
  }
}
