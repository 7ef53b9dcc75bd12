// SPDX-License-Identifier: AGPL-3.0-only
/**
 * An input envelope into messages, each validated against the harmonization as IntelMQ does on
 * receive. What cannot be decoded or validated is dumped at once (retrying cannot help) and the
 * other messages of the envelope go on.
 */
import type { Logger } from "pino";
import type { Delivery, DumpEntry } from "../../broker/index.js";
import { ErrorCode, hasCode } from "../../errors/index.js";
import type { Harmonization } from "../../harmonization/index.js";
import { HARMONIZED_HEADER, decodeEnvelope, messageFromDict, type Message } from "../../message/index.js";
import { Dumper } from "./dumps.js";
import type { Stats } from "./stats.js";

export interface Decoded {
  /** The valid messages with their index in the envelope. */
  messages: { msg: Message; index: number }[];
  dumps: DumpEntry[];
}

export function decodeInput(
  d: Pick<Delivery, "data" | "headers">, env: { defaultType: "Report" | "Event"; harmonization: Harmonization; log: Logger; dumper: Dumper; stats: Stats },
): Decoded {
  const out: Decoded = { messages: [], dumps: [] };
  const dump = (e: DumpEntry | null): void => { if (e) out.dumps.push(e); };
  let dicts: Record<string, unknown>[];
  try {
    dicts = decodeEnvelope(d.data, d.headers["Content-Type"] ?? d.headers["content-type"]);
  } catch (err) {
    env.stats.failure();
    env.log.error({ err }, "Could not decode message from pipeline. No retries useful.");
    dump(env.dumper.give(env.dumper.traceback(err), Buffer.from(d.data).toString("base64"), true));
    return out;
  }
  if (dicts.length === 0) env.log.warn("Empty message received. Some previous bot sent invalid data.");
  // Envelopes of our own bots hold valid messages: taken as they are. The rest is validated.
  const trusted = d.headers[HARMONIZED_HEADER] === "1";
  for (let i = 0; i < dicts.length; i++) {
    const dict = dicts[i]!;
    try {
      out.messages.push({ msg: messageFromDict(dict, { harmonization: env.harmonization, defaultType: env.defaultType, trusted }), index: i });
    } catch (err) {
      // Invalid on receive: retrying cannot help (IntelMQ dumps the dict it was built from).
      env.stats.failure();
      if (hasCode(err, ErrorCode.InvalidValue)) env.log.error({ err }, "Found an invalid value that violates the harmonization rules.");
      else if (hasCode(err, ErrorCode.InvalidKey)) env.log.error({ err }, "Found an invalid key that violates the harmonization rules.");
      else env.log.error({ err }, "Could not decode message from pipeline. No retries useful.");
      dump(env.dumper.give(env.dumper.traceback(err), Dumper.dictBase64(dict), true));
    }
  }
  return out;
}
