// SPDX-License-Identifier: AGPL-3.0-only
/** Dump entries in IntelMQ's shape, and IntelMQ's rule for when a message given up on is dumped. */
import type { Logger } from "pino";
import type { DumpEntry } from "../../broker/index.js";
import type { Message } from "../../message/index.js";
import { pythonJsonDumps, tracebackLines, utcTimestamp } from "../util.js";

export class Dumper {
  #warned = false;

  constructor(
    readonly botId: string,
    /** null for collectors (no input queue). */
    private sourceQueue: string | null,
    private enabled: boolean,
    private log: Logger,
  ) {}

  configure(sourceQueue: string | null, enabled: boolean, log: Logger): void {
    this.sourceQueue = sourceQueue;
    this.enabled = enabled;
    this.log = log;
  }

  entry(traceback: string[] | string, message: string, base64: boolean): DumpEntry {
    const e: DumpEntry = { bot_id: this.botId, source_queue: this.sourceQueue, traceback, message, timestamp: utcTimestamp() };
    if (base64) e.message_type = "base64";
    return e;
  }

  /** The entry to store, or null (with IntelMQ's one-time warning) when error_dump_message is off. */
  give(traceback: string[] | string, message: string, base64: boolean): DumpEntry | null {
    if (this.enabled) {
      this.log.info("Dumping message to dump file.");
      return this.entry(traceback, message, base64);
    }
    if (!this.#warned) {
      this.#warned = true;
      this.log.warn("Message will be removed from the pipeline and not dumped to the disk. Set `error_dump_message` to true to save the message on disk. This warning is only shown once in the runtime of a bot.");
    }
    return null;
  }

  /** A dump's traceback: the one-line reason; with the JavaScript stack when the bot logs at DEBUG. */
  traceback(err: unknown): string[] {
    return tracebackLines(err, { stack: this.log.isLevelEnabled("debug") });
  }

  /** A message as its dump shows it: IntelMQ's JSON with __type. */
  static text(m: Message): string {
    try { return m.toJson({ withType: true }); } catch { return JSON.stringify(m.serialize()); }
  }

  /** A dict that failed on receive, as IntelMQ dumps it: base64 of Python's JSON without __type. */
  static dictBase64(dict: Record<string, unknown>): string {
    const { __type: _t, ...rest } = dict;
    return Buffer.from(pythonJsonDumps(rest), "utf8").toString("base64");
  }
}
