// SPDX-License-Identifier: AGPL-3.0-only
/** What a new event takes from its report (IntelMQ's new_event() and Event(report)). */
import type { Report } from "./kinds.js";

const TEMPLATE_KEYS = ["feed.accuracy", "feed.code", "feed.documentation", "feed.name", "feed.provider", "feed.url", "rtir_id", "time.observation"];

/** The fields of `report` a new event starts with: feed.*, rtir_id, time.observation and `copyFields`. */
export function eventTemplate(report: Report, copyFields: readonly string[]): Record<string, unknown> {
  const t: Record<string, unknown> = {};
  for (const k of TEMPLATE_KEYS) if (report.has(k)) t[k] = report.get(k);
  for (const k of copyFields) if (report.has(k)) t[k] = report.get(k);
  return t;
}
