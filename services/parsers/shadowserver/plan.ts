// SPDX-License-Identifier: AGPL-3.0-only
/**
 * One report type applied to one report's header: each mapping of the schema bound to its column
 * once per report, then every row made into an event as IntelMQ's parse_line does it (required
 * fields, optional fields, constants, raw, and every column left over kept under extra.).
 */
import {
  ErrorCode, LineError, hasCode, pyRepr, pyStrip,
  type BotContext, type Event, type Report,
} from "../../../shared/sdk/index.js";
import { CONVERTERS, type Converter, type RowLookup } from "./convert.js";
import { quotedHeader } from "./csv.js";
import type { FieldMap, ReportType } from "./schema.js";

/** Where a mapped value goes. */
const FIELD = 0, EXTRA_COLUMN = 1, EXTRA_NAMED = 2, IGNORE = 3, NOT_IN_IDF = 4;

interface Step {
  readonly map: FieldMap;
  /** Index of the column among the distinct column names; -1 when the header lacks it. */
  readonly uid: number;
  /** The column's position in the row (the last one of that name, as Python's dict keeps it). */
  readonly idx: number;
  readonly fn: Converter | null;
  readonly target: number;
  readonly extraName: string;
}

export interface Plan {
  readonly type: ReportType;
  readonly feedName: string;
  /** The header as IntelMQ writes it before each raw line, with the report's line ending. */
  readonly rawPrefix: string;
  readonly required: readonly Step[];
  readonly optional: readonly Step[];
  /** Distinct column names, their position and how often the header has each. */
  readonly names: readonly string[];
  readonly nameIdx: readonly number[];
  readonly counts: Int32Array;
}

/** A CSV row with the plan of its report and its last physical line (for raw). */
export interface Row {
  readonly fields: readonly string[];
  readonly line: string;
  readonly plan: Plan;
}

const IGNORED = new Set<unknown>(["", "-", "N/A"]);
const KEEP = { overwrite: false } as const;

/** Bind the report type to a header; logs once per report what IntelMQ logs per line. */
export function compilePlan(type: ReportType, feedName: string, header: readonly string[], lineEnding: string,
  h: BotContext["harmonization"], log: BotContext["log"]): Plan {
  const uidOf = new Map<string, number>();
  const names: string[] = [];
  const nameIdx: number[] = [];
  const countList: number[] = [];
  header.forEach((name, i) => {
    let u = uidOf.get(name);
    if (u === undefined) {
      u = names.length;
      uidOf.set(name, u);
      names.push(name);
      nameIdx.push(i);
      countList.push(0);
    }
    nameIdx[u] = i;
    countList[u]!++;
  });
  const step = (map: FieldMap, required: boolean): Step => {
    const uid = uidOf.get(map.column) ?? -1;
    let target = FIELD;
    let extraName = "";
    if (map.key === false) target = IGNORE;
    else if (!required && map.key === "extra.") { target = EXTRA_COLUMN; extraName = map.column; }
    else if (!required && map.key.startsWith("extra.")) { target = EXTRA_NAMED; extraName = map.key.slice(6); }
    else if (!h.field("Event", map.key)) {
      target = NOT_IN_IDF;
      extraName = map.key;
      if (required) log.warn(`Key not found in IDF ${pyRepr(map.key)}.`);
    }
    if (!required && uid === -1) {
      log.warn(`Optional key ${pyRepr(map.column)} not found in feed ${pyRepr(feedName)}. Possible change in data format or misconfiguration.`);
    }
    let fn: Converter | null = null;
    if (map.fn !== null) {
      fn = CONVERTERS[map.fn] ?? null;
      // IntelMQ: a KeyError for a required field's unknown function, no conversion for an optional one
      if (!fn && required) fn = () => { throw new LineError(`unknown conversion function ${pyRepr(map.fn)} in the schema`); };
    }
    return { map, uid, idx: uid === -1 ? -1 : nameIdx[uid]!, fn, target, extraName };
  };
  return {
    type, feedName,
    rawPrefix: quotedHeader(header) + lineEnding,
    required: type.required.map((m) => step(m, true)),
    optional: type.optional.map((m) => step(m, false)),
    names, nameIdx, counts: Int32Array.from(countList),
  };
}

function convert(s: Step, raw: string, row: RowLookup, plan: Plan): unknown {
  try {
    return s.fn!(raw, row);
  } catch (err) {
    throw new LineError(`Could not convert column ${pyRepr(s.map.column)} in feed ${pyRepr(plan.feedName)}, value ${pyRepr(raw)} `
      + `via conversion function ${pyRepr(s.map.fn)}: ${(err as Error).message}`, { cause: err });
  }
}

/** The raw text of a row: the header and the row's line, stripped (IntelMQ's recover_line_csv_dict). */
export function rowRaw(row: Row): string {
  return pyStrip(row.plan.rawPrefix + row.line);
}

/** One row as IntelMQ's Shadowserver parse_line makes it. */
export function rowEvent(row: Row, report: Report, ctx: BotContext, overwrite: boolean): Event {
  const { plan, fields } = row;
  const counts = plan.counts.slice();
  const at = (idx: number): string | null => (idx >= 0 && idx < fields.length ? fields[idx]! : null);
  let lookup: RowLookup | null = null;
  const rowLookup = (): RowLookup => (lookup ??= (name) => {
    const u = plan.names.indexOf(name);
    return u === -1 ? undefined : at(plan.nameIdx[u]!);
  });

  const event = ctx.newEvent(report);
  event.add("feed.name", plan.feedName, { overwrite });
  event.add("feed.documentation", plan.type.url, KEEP);
  const extra: Record<string, unknown> = {};
  let hasExtra = false;

  for (const s of plan.required) {
    if (s.uid === -1) {
      throw new LineError(`Required column ${pyRepr(s.map.column)} not found in feed ${pyRepr(plan.feedName)}. `
        + "Possible change in data format or misconfiguration.");
    }
    // a column mapped twice is counted again for each further use
    if (counts[s.uid] === 0) counts[s.uid]++;
    const raw = at(s.idx);
    const value = s.fn && raw !== null ? convert(s, raw, rowLookup(), plan) : raw;
    if (value === null || value === undefined) continue;
    if (s.target === FIELD) event.add(s.map.key as string, value);
    counts[s.uid]--;
  }

  for (const s of plan.optional) {
    if (s.uid === -1) continue;
    if (counts[s.uid] === 0) counts[s.uid]++;
    const raw = at(s.idx);
    const value = s.fn && raw !== null ? convert(s, raw, rowLookup(), plan) : raw;
    if (value === null || value === undefined) { counts[s.uid]--; continue; }
    switch (s.target) {
      case EXTRA_COLUMN: case EXTRA_NAMED:
        extra[s.extraName] = value;
        hasExtra = true;
        counts[s.uid]--;
        break;
      case IGNORE:
        counts[s.uid]--;
        break;
      case NOT_IN_IDF:
        // IntelMQ's add() returns before its key check for "no value"s; other values go to extra
        if (!IGNORED.has(value)) { extra[s.extraName] = value; hasExtra = true; }
        counts[s.uid]--;
        break;
      default:
        try {
          event.add(s.map.key as string, value);
          counts[s.uid]--;
        } catch (err) {
          if (!hasCode(err, ErrorCode.InvalidValue)) throw err;
          // kept among the left-over columns: its text goes to extra
          ctx.log.debug(`Could not add key ${pyRepr(s.map.column)} in feed ${pyRepr(plan.feedName)}, adding it to extras.`);
        }
    }
  }

  event.update(plan.type.constants);
  event.add("raw", rowRaw(row));

  const { names, nameIdx } = plan;
  for (let u = 0; u < names.length; u++) {
    if (counts[u]! <= 0) continue;
    const v = at(nameIdx[u]!);
    if (v !== "") { extra[names[u]!] = v; hasExtra = true; }
  }
  if (hasExtra) event.add("extra", extra);
  return event;
}
