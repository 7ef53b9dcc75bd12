// SPDX-License-Identifier: AGPL-3.0-only
/**
 * An input envelope into messages, each validated against the harmonization as IntelMQ does on
 * receive. What cannot be decoded or validated is dumped at once (retrying cannot help) and the
 * other messages of the envelope go on. A chunked envelope (shared/message/envelope.ts) is
 * decoded a chunk at a time, as the driver asks for the next: its events die young.
 */
import type { Logger } from "pino";
import type { Delivery, DumpEntry } from "../../broker/index.js";
import { ErrorCode, hasCode } from "../../errors/index.js";
import type { Harmonization } from "../../harmonization/index.js";
import { HARMONIZED_HEADER, attachRaw, decodeEnvelope, envelopeChunks, hydrateRaw, messageFromDict, type Message } from "../../message/index.js";
import type { InputBatches } from "../drivers/driver.js";
import { Dumper } from "./dumps.js";
import type { Stats } from "./stats.js";

/** Valid messages with their index in the envelope. */
export type Batch = { msg: Message; index: number }[];

export interface Decoded {
  /** The messages of a plain envelope, decoded at once; null for a chunked one (see batches). */
  whole: Batch | null;
  /** The messages a batch at a time: whole as one batch, or one batch per chunk, decoded as they are asked for. */
  batches: Iterable<Batch>;
}

export interface DecodeEnv {
  defaultType: "Report" | "Event";
  harmonization: Harmonization;
  log: Logger;
  dumper: Dumper;
  stats: Stats;
  /** What cannot be decoded or validated, as it is found. */
  dump(e: DumpEntry): void;
  /** Decoding again: what is invalid was counted, logged and dumped before. */
  quiet?: boolean;
}

export function decodeInput(d: Pick<Delivery, "data" | "headers">, env: DecodeEnv): Decoded {
  const contentType = d.headers["Content-Type"] ?? d.headers["content-type"];
  // Envelopes of our own bots hold valid messages: taken as they are. The rest is validated.
  const trusted = d.headers[HARMONIZED_HEADER] === "1";
  let chunks: Uint8Array[] | null = null;
  if (!contentType || !/json/i.test(contentType)) {
    try {
      chunks = envelopeChunks(d.data);
    } catch (err) {
      unreadable(env, err, d.data);
      return { whole: [], batches: [] };
    }
  }
  if (chunks) {
    if (chunks.length === 0) env.log.warn("Empty message received. Some previous bot sent invalid data.");
    // Iterated again (an output's flush given up on dumps the input's events), the input is
    // decoded anew without telling twice what was invalid.
    const input = chunks;
    let told = false;
    const quiet: DecodeEnv = { ...env, quiet: true };
    return {
      whole: null,
      batches: { [Symbol.iterator]: () => { const e = told ? quiet : env; told = true; return lazyBatches(input, trusted, e); } },
    };
  }
  let dicts: Record<string, unknown>[];
  try {
    dicts = decodeEnvelope(d.data, contentType);
  } catch (err) {
    unreadable(env, err, d.data);
    return { whole: [], batches: [] };
  }
  if (dicts.length === 0) env.log.warn("Empty message received. Some previous bot sent invalid data.");
  const whole = messagesOf(dicts, 0, trusted, env);
  return { whole, batches: [whole] };
}

/**
 * The input's messages for its driver. A plain envelope is decoded at once and its bytes let go
 * (a large report's would double its memory); a large report's raw stays in the store: a parser
 * reads it a piece at a time, anyone else gets it loaded.
 */
export async function inputBatches(d: Pick<Delivery, "data" | "headers" | "raw" | "forget">, env: DecodeEnv, parser: boolean): Promise<InputBatches> {
  const { whole, batches } = decodeInput(d, env);
  if (whole === null) return batches;
  d.forget?.();
  if (d.raw && whole.length === 1) {
    const msg = whole[0]!.msg;
    attachRaw(msg, d.raw);
    if (!parser) await hydrateRaw(msg);
  }
  return batches;
}

function* lazyBatches(chunks: readonly Uint8Array[], trusted: boolean, env: DecodeEnv): Generator<Batch> {
  let index = 0;
  for (const c of chunks) {
    let dicts: Record<string, unknown>[];
    try {
      dicts = decodeEnvelope(c);
    } catch (err) {
      // A chunk that cannot be read is dumped whole; the others go on.
      unreadable(env, err, c);
      continue;
    }
    const batch = messagesOf(dicts, index, trusted, env);
    index += dicts.length;
    yield batch;
  }
}

function messagesOf(dicts: readonly Record<string, unknown>[], first: number, trusted: boolean, env: DecodeEnv): Batch {
  const out: Batch = [];
  for (let i = 0; i < dicts.length; i++) {
    const dict = dicts[i]!;
    try {
      out.push({ msg: messageFromDict(dict, { harmonization: env.harmonization, defaultType: env.defaultType, trusted }), index: first + i });
    } catch (err) {
      if (env.quiet) continue;
      // Invalid on receive: retrying cannot help (IntelMQ dumps the dict it was built from).
      env.stats.failure();
      if (hasCode(err, ErrorCode.InvalidValue)) env.log.error({ err }, "Found an invalid value that violates the harmonization rules.");
      else if (hasCode(err, ErrorCode.InvalidKey)) env.log.error({ err }, "Found an invalid key that violates the harmonization rules.");
      else env.log.error({ err }, "Could not decode message from pipeline. No retries useful.");
      const e = env.dumper.give(env.dumper.traceback(err), Dumper.dictBase64(dict), true);
      if (e) env.dump(e);
    }
  }
  return out;
}

function unreadable(env: DecodeEnv, err: unknown, bytes: Uint8Array): void {
  if (env.quiet) return;
  env.stats.failure();
  env.log.error({ err }, "Could not decode message from pipeline. No retries useful.");
  const e = env.dumper.give(env.dumper.traceback(err), Buffer.from(bytes).toString("base64"), true);
  if (e) env.dump(e);
}
