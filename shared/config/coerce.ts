// SPDX-License-Identifier: AGPL-3.0-only
/**
 * The one set of coercions of configuration values, for runtime.yaml's `global:` section, its
 * bot entries and every bot's parameters. IntelMQ configurations (INTELMQ_* environment
 * variables, IntelMQ's own test cases, hand-written YAML) give numbers and booleans as strings
 * ("86400", "true") and lists as comma-separated strings; these accept that and yield types.
 *
 * The empty string, decided by what IntelMQ does with it: IntelMQ converts an INTELMQ_*
 * variable only when it is "True", "False" or digits, so `INTELMQ_X=` (like `x: ""` in YAML)
 * reaches the bot as "", which Python then uses as it is:
 * - a boolean: "" is false (Python's truth value of an empty string);
 * - a number: "" is no number; IntelMQ fails where it first uses it, we refuse it at start
 *   with the key's name;
 * - a list: "" is the empty list; a string: "" stays "".
 * A missing value (YAML `x:` is null) is not "": it is null, which only nullable keys accept.
 */
import { z } from "zod";

function toNumber(v: unknown): unknown {
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return v;
}

function toBool(v: unknown): unknown {
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (s === "true" || s === "yes" || s === "1") return true;
    if (s === "false" || s === "no" || s === "0" || s === "") return false;
  }
  if (typeof v === "number") return v !== 0;
  return v;
}

function toList(v: unknown): unknown {
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return v;
}

function toText(v: unknown): unknown {
  return typeof v === "number" || typeof v === "boolean" ? String(v) : v;
}

/** The coercions as functions (for values read outside a schema). */
export const coerce = { number: toNumber, bool: toBool, list: toList, text: toText } as const;

/** zod building blocks of parameter and configuration schemas. */
export const p = {
  /** An integer; numeric strings accepted ("" is refused). */
  int: () => z.preprocess(toNumber, z.number().int()),
  /** A number; numeric strings accepted ("" is refused). */
  number: () => z.preprocess(toNumber, z.number()),
  /** A boolean; "true"/"false", "yes"/"no", "1"/"0" (any case) and numbers accepted; "" is false. */
  bool: () => z.preprocess(toBool, z.boolean()),
  /** A list of strings; a comma-separated string accepted (entries stripped, empties dropped). */
  list: () => z.preprocess(toList, z.array(z.string())),
  /** A string; numbers and booleans accepted as their text. */
  text: () => z.preprocess(toText, z.string()),
  /** A string or null (IntelMQ's `None` default). */
  str: () => z.string().nullable(),
  /**
   * A secret (password, API key, token, credentials in a header): its value is hidden wherever
   * parameters are shown (logs, intelmqctl, dumps). Wrap the whole field: `p.secret(p.str().default(null))`.
   */
  secret: <T extends z.ZodType>(schema: T): T => schema.meta({ secret: true }) as T,
};

/** The keys of an object schema whose fields are marked with p.secret(). */
export function secretKeys(schema: z.ZodType): string[] {
  const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape) return [];
  return Object.entries(shape).filter(([, f]) => (z.globalRegistry.get(f) as { secret?: boolean } | undefined)?.secret === true).map(([k]) => k);
}
