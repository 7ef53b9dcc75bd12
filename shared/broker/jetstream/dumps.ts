// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The dumps stream (limits retention, subject intelmq.dump.<bot-id>): one record per message a
 * bot gave up on. An entry above max_payload (a large report that failed whole) keeps its message
 * in the object store, under a name the stored entry carries; readers get it back whole.
 * Bounded by dumps_max_bytes with discard new: a full stream refuses a dump, and the bot waits
 * (its input stays unacknowledged) until entries are deleted or the limit is raised; an entry is
 * never dropped to make room.
 */
import { nuid } from "@nats-io/transport-node";
import { DiscardPolicy } from "@nats-io/jetstream";
import { BrokerUnavailableError, errorMessage } from "../../errors/index.js";
import { DUMPS_STREAM, dumpSubject, LARGE_DUMPS_BUCKET } from "../names.js";
import type { DumpEntry, DumpStore, StoredDump } from "../types.js";
import { HEADER_ROOM, apiCode, type JsConnection } from "./connection.js";

/** Key of a stored dump entry whose message lies in LARGE_DUMPS_BUCKET. */
const DUMP_OBJECT_KEY = "intelmq_message_object";

export class JsDumps implements DumpStore {
  #ready: Promise<void> | null = null;

  constructor(private readonly c: JsConnection) {}

  #stream(): Promise<void> {
    if (!this.#ready) {
      const p = this.c.limitsStream({
        name: DUMPS_STREAM,
        description: "IntelMQ dumps: messages bots gave up on",
        subjects: ["intelmq.dump.>"],
        max_age: 0,
        max_bytes: this.c.limits.dumpsMaxBytes,
        discard: DiscardPolicy.New,
      }, this.c.given.dumpsMaxBytes !== undefined);
      this.#ready = p;
      p.catch(() => { if (this.#ready === p) this.#ready = null; });
    }
    return this.#ready;
  }

  async store(entry: DumpEntry): Promise<void> {
    try {
      await this.#stream();
      this.c.live("dump");
      let data = new TextEncoder().encode(JSON.stringify(entry));
      if (data.byteLength > this.c.maxPayload - HEADER_ROOM) {
        const name = `dump-${nuid.next()}`;
        const os = await this.c.largeStore(LARGE_DUMPS_BUCKET);
        await os.putBlob({ name }, new TextEncoder().encode(entry.message));
        data = new TextEncoder().encode(JSON.stringify({ ...entry, message: "", [DUMP_OBJECT_KEY]: name }));
      }
      await this.c.js.publish(dumpSubject(entry.bot_id), data, { timeout: this.c.timeoutMs });
    } catch (err) {
      if (apiCode(err) === 10077) {
        throw new BrokerUnavailableError(`dump of ${entry.bot_id}: the dumps are full (dumps_max_bytes, dumps_large_max_bytes): `
          + `delete entries with intelmqdump or raise the limit; ${errorMessage(err)}`, { cause: err });
      }
      throw this.c.wrap(`dump of ${entry.bot_id}`, err);
    }
  }

  /** The whole entry: a message kept in the object store is fetched back. */
  async #resolve(raw: DumpEntry & { [DUMP_OBJECT_KEY]?: string }, seq: number): Promise<StoredDump> {
    const { [DUMP_OBJECT_KEY]: obj, ...entry } = raw;
    if (obj) {
      const blob = await (await this.c.largeStore(LARGE_DUMPS_BUCKET)).getBlob(obj);
      if (blob) entry.message = new TextDecoder().decode(blob);
      else this.c.log.error({ seq, object: obj }, "the message of a large dump entry is missing from the object store");
    }
    return { ...entry, seq };
  }

  async read(botId?: string): Promise<StoredDump[]> {
    const subject = botId === undefined ? "intelmq.dump.>" : dumpSubject(botId);
    const out: StoredDump[] = [];
    try {
      await this.#stream();
      const si = await this.c.jsm.streams.info(DUMPS_STREAM, { subjects_filter: subject });
      const total = Object.values(si.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      if (total === 0) return out;
      // An ordered consumer reads the stream once, oldest first, and leaves nothing behind.
      const oc = await this.c.js.consumers.get(DUMPS_STREAM, { filter_subjects: subject });
      const it = await oc.consume({ max_messages: Math.min(total, 1000) });
      try {
        for await (const m of it) {
          try {
            out.push(await this.#resolve(m.json<DumpEntry>(), m.seq));
          } catch (err) {
            this.c.log.warn({ seq: m.seq, err: errorMessage(err) }, "unreadable dump entry");
          }
          if (m.info.pending === 0) break;
        }
      } finally {
        await it.close();
      }
    } catch (err) {
      throw this.c.wrap("read dumps", err);
    }
    return out;
  }

  async counts(botIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map(botIds.map((id) => [id, 0]));
    if (botIds.length === 0) return out;
    try {
      await this.#stream();
      // The stream's count per subject: no entry is read.
      const si = await this.c.jsm.streams.info(DUMPS_STREAM, { subjects_filter: "intelmq.dump.>" });
      const bySubject = si.state.subjects ?? {};
      for (const id of botIds) out.set(id, bySubject[dumpSubject(id)] ?? 0);
    } catch (err) {
      throw this.c.wrap("count dumps", err);
    }
    return out;
  }

  async delete(seq: number): Promise<boolean> {
    try {
      await this.#stream();
      let obj: string | undefined;
      try {
        const sm = await this.c.jsm.streams.getMessage(DUMPS_STREAM, { seq });
        obj = (sm?.json<Record<string, unknown>>() ?? {})[DUMP_OBJECT_KEY] as string | undefined;
      } catch { /* gone already, or unreadable: deleting it is all there is to do */ }
      const deleted = await this.c.jsm.streams.deleteMessage(DUMPS_STREAM, seq, false);
      if (deleted && obj) {
        await (await this.c.largeStore(LARGE_DUMPS_BUCKET)).delete(obj).catch((err: unknown) => {
          this.c.log.warn({ object: obj, err: errorMessage(err) }, "cannot delete the message of a large dump entry");
        });
      }
      return deleted;
    } catch (err) {
      if (apiCode(err) === 10057 || /no message found/i.test(errorMessage(err))) return false;
      throw this.c.wrap(`delete dump ${seq}`, err);
    }
  }
}
