// SPDX-License-Identifier: AGPL-3.0-only
import { InvalidArgument } from "../errors/index.js";

/** Minutes per unit of a relative time (IntelMQ's TIMESPANS). */
const TIMESPANS: Readonly<Record<string, number>> = {
  second: 1 / 60, minute: 1, hour: 60, day: 24 * 60, week: 7 * 24 * 60, month: 30 * 24 * 60, year: 365 * 24 * 60,
};

/** IntelMQ's parse_relative: "4 hours" -> 240 (minutes); "<number> <unit>[s]". */
export function parseRelative(text: string): number {
  const m = /^(\d+)\s+(\w+[^s])s?$/u.exec(text.trim());
  const unit = m ? TIMESPANS[m[2]!] : undefined;
  if (!m || unit === undefined) throw new InvalidArgument("relative time", text, "<number> <second|minute|hour|day|week|month|year>[s]");
  return Number(m[1]) * unit;
}
