// SPDX-License-Identifier: AGPL-3.0-only
/**
 * What a dump entry says, for tests that check why a message was dumped and which one it was
 * (a count of dumps alone passes whatever went wrong).
 */
import type { DumpEntry } from "../../shared/broker/index.js";

/** The reason of a dump: the last line of its traceback (list or text), without the newline. */
export function dumpReason(d: DumpEntry): string {
  const text = Array.isArray(d.traceback) ? d.traceback.join("") : d.traceback;
  return text.trimEnd().split("\n").at(-1) ?? "";
}

/** The dumped message as a dict: IntelMQ's JSON text, or base64 of it (message_type base64). */
export function dumpedMessage(d: DumpEntry): Record<string, unknown> {
  const text = d.message_type === "base64" ? Buffer.from(d.message, "base64").toString("utf8") : d.message;
  return JSON.parse(text) as Record<string, unknown>;
}

/** The raw field of the dumped message, decoded: for a parser, the failed line with its header lines. */
export function dumpedRaw(d: DumpEntry): string {
  const raw = dumpedMessage(d).raw;
  if (typeof raw !== "string") throw new Error(`the dumped message has no raw: ${d.message.slice(0, 200)}`);
  return Buffer.from(raw, "base64").toString("utf8");
}
