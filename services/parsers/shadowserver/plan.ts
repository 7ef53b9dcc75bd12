// SPDX-License-Identifier: AGPL-3.0-only
/**
 * One report type applied to one report's header: each mapping of the schema bound to its column
 * once per report, then every row made into an event as IntelMQ's parse_line does it (required
 * fields, optional fields, constants, raw, and every column left over kept under extra.).
 */
import {
  ErrorCode, LineError, hasCode, pyRepr,
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
  /** `extra.<extraName>` when that is a valid key (the fast path of extra), else null. */
  readonly extraKey: string | null;
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
  /** `extra.<name>` per distinct column name when valid, else null. */
  readonly nameKeys: readonly (string | null)[];
  readonly counts: Int32Array;
}

/** A CSV row with the plan of its report and its text (for raw). */
export interface Row {
  readonly fields: readonly string[];
  /** The record as it was in the report, its line terminator included. */
  readonly line: string;
  readonly plan: Plan;
}

const IGNORED = new Set<unknown>(["", "-", "N/A"]);

const PLAIN_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;

/**
 * add_UTC_to_timestamp for a DateTime field: Shadowserver's "2024-01-15 15:02:59" is that time
 * in UTC, given in ISO form at once; anything else goes the general way (" UTC" appended, then
 * the harmonization's parser), which gives the same for these.
 */
const utcTimestamp: Converter = (v) => {
  const m = PLAIN_TIME.exec(v);
  if (m) {
    const [y, mo, d, hh, mi, ss] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
    const t = new Date(Date.UTC(y, mo - 1, d, hh, mi, ss));
    if (y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && hh < 24 && mi < 60 && ss < 60) {
      return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+00:00`;
    }
  }
  return v + " UTC";
};

/** A value that extra keeps the same whether added as part of a dict or on its own key. */
function plain(v: unknown): boolean {
  return typeof v === "string" ? !IGNORED.has(v) : typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** Python's str.isspace() for one UTF-16 unit. */
function pySpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) || c === 0x85 || c === 0xa0 || c === 0x1680
    || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Python's str.strip() without arguments. */
function strip(s: string): string {
  let a = 0, b = s.length;
  while (b > a && pySpace(s.charCodeAt(b - 1))) b--;
  while (a < b && pySpace(s.charCodeAt(a))) a++;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
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
  const extraKeyOf = (name: string): string | null => (h.field("Event", "extra." + name) ? "extra." + name : null);
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
    if (fn === CONVERTERS.add_UTC_to_timestamp && target === FIELD && h.field("Event", map.key as string)?.typeName === "DateTime") {
      fn = utcTimestamp;
    }
    return { map, uid, idx: uid === -1 ? -1 : nameIdx[uid]!, fn, target, extraName, extraKey: extraKeyOf(extraName) };
  };
  return {
    type, feedName,
    rawPrefix: quotedHeader(header) + lineEnding,
    required: type.required.map((m) => step(m, true)),
    optional: type.optional.map((m) => step(m, false)),
    names, nameIdx, nameKeys: names.map(extraKeyOf), counts: Int32Array.from(countList),
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

/**
 * The raw text of a row: the header and the row's text, stripped (IntelMQ's recover_line_csv_dict;
 * of a record spanning lines IntelMQ keeps only the last line, we keep all of them).
 */
export function rowRaw(row: Row): string {
  return strip(row.plan.rawPrefix + row.line);
}

/** The row's extra: a dict, and whether each of its entries may go on its own key. */
class Extra {
  readonly dict: Record<string, unknown> = {};
  readonly keys: string[] = [];
  readonly values: unknown[] = [];
  fast = true;
  set(name: string, key: string | null, value: unknown): void {
    this.dict[name] = value;
    if (!this.fast) return;
    if (key === null || !plain(value)) { this.fast = false; return; }
    this.keys.push(key);
    this.values.push(value);
  }
}

const OVERWRITE = { overwrite: true } as const;

/** One row as IntelMQ's Shadowserver parse_line makes it. */
export function rowEvent(row: Row, report: Report, ctx: BotContext, overwrite: boolean): Event {
  const { plan, fields } = row;
  const counts = plan.counts.slice();
  const n = fields.length;
  let lookup: RowLookup | null = null;
  const rowLookup = (): RowLookup => (lookup ??= (name) => {
    const u = plan.names.indexOf(name);
    if (u === -1) return undefined;
    const i = plan.nameIdx[u]!;
    return i < n ? fields[i]! : null;
  });

  const event = ctx.newEvent(report);
  event.add("feed.name", plan.feedName, { overwrite });
  event.add("feed.documentation", plan.type.url, KEEP);
  let extra: Extra | null = null;

  for (const s of plan.required) {
    if (s.uid === -1) {
      throw new LineError(`Required column ${pyRepr(s.map.column)} not found in feed ${pyRepr(plan.feedName)}. `
        + "Possible change in data format or misconfiguration.");
    }
    // a column mapped twice is counted again for each further use
    if (counts[s.uid] === 0) counts[s.uid]++;
    const raw = s.idx < n ? fields[s.idx]! : null; // a short row has None for its last columns
    const value = s.fn && raw !== null ? convert(s, raw, rowLookup(), plan) : raw;
    if (value === null || value === undefined) continue;
    if (s.target === FIELD) event.add(s.map.key as string, value);
    counts[s.uid]--;
  }

  for (const s of plan.optional) {
    if (s.uid === -1) continue;
    if (counts[s.uid] === 0) counts[s.uid]++;
    const raw = s.idx < n ? fields[s.idx]! : null;
    const value = s.fn && raw !== null ? convert(s, raw, rowLookup(), plan) : raw;
    if (value === null || value === undefined) { counts[s.uid]--; continue; }
    switch (s.target) {
      case EXTRA_COLUMN: case EXTRA_NAMED:
        (extra ??= new Extra()).set(s.extraName, s.extraKey, value);
        counts[s.uid]--;
        break;
      case IGNORE:
        counts[s.uid]--;
        break;
      case NOT_IN_IDF:
        // IntelMQ's add() returns before its key check for "no value"s; other values go to extra
        if (!IGNORED.has(value)) (extra ??= new Extra()).set(s.extraName, s.extraKey, value);
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

  const { names, nameIdx, nameKeys } = plan;
  for (let u = 0; u < names.length; u++) {
    if (counts[u]! <= 0) continue;
    const i = nameIdx[u]!;
    const v = i < n ? fields[i]! : null;
    if (v !== "") (extra ??= new Extra()).set(names[u]!, nameKeys[u]!, v);
  }
  if (extra) {
    // Key by key is what the dict gives when every value is plain and no extra is there yet; the
    // dict itself (dumped and read back) is the slow general way.
    if (extra.fast && !event.has("extra")) {
      for (let k = 0; k < extra.keys.length; k++) event.add(extra.keys[k]!, extra.values[k], OVERWRITE);
    } else {
      event.add("extra", extra.dict);
    }
  }
  return event;
}
