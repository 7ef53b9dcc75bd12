// SPDX-License-Identifier: AGPL-3.0-only
/**
 * Format field expert: Python string methods on field values — strip(), replace(), split() —
 * in that order (IntelMQ's intelmq.bots.experts.format_field.expert).
 */
import { z } from "zod";
import { ConfigurationError, InvalidValue, pyStrip, type Message, defineBot, p } from "../../../shared/sdk/index.js";

/** Python's truthiness of a field value: unset, "", 0, false and empty lists/objects are false. */
function falsy(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v).length === 0;
}

/** Python's str.strip(chars): code points in `chars` removed from both ends; null strips whitespace. */
export function pyStripChars(s: string, chars: string | null): string {
  if (chars === null) return pyStrip(s);
  const set = new Set(Array.from(chars));
  const cps = Array.from(s);
  let a = 0, b = cps.length;
  while (a < b && set.has(cps[a]!)) a++;
  while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join("");
}

/** Python's str.replace(old, new, count): a negative count replaces all; an empty `old` inserts between code points. */
export function pyReplace(s: string, old: string, repl: string, count = -1): string {
  const limit = count < 0 ? Infinity : count;
  if (old === "") {
    const cps = Array.from(s);
    let out = "";
    let n = 0;
    for (let i = 0; i <= cps.length; i++) {
      if (n < limit) { out += repl; n++; }
      if (i < cps.length) out += cps[i];
    }
    return out;
  }
  let out = "";
  let from = 0;
  for (let n = 0; n < limit; n++) {
    const at = s.indexOf(old, from);
    if (at < 0) break;
    out += s.slice(from, at) + repl;
    from = at + old.length;
  }
  return out + s.slice(from);
}

/** Python's str.split(sep): null splits on runs of whitespace and drops empty parts. */
export function pySplit(s: string, sep: string | null): string[] {
  if (sep !== null) return s.split(sep);
  const t = pyStrip(s);
  return t === "" ? [] : t.split(/[\s\x1c-\x1f\x85]+/);
}

export const params = z.object({
  strip_columns: p.list().default([]).describe("Fields whose values are stripped of strip_chars at both ends (a list or comma-separated)"),
  strip_chars: z.string().nullable().default(" ").describe("The characters strip removes (each one on its own); null: whitespace"),
  replace_column: z.string().nullable().default(null).describe("The field in which old_value is replaced by new_value"),
  old_value: z.string().default("").describe("The text to replace in replace_column"),
  new_value: z.string().default("").describe("Its replacement"),
  replace_count: p.int().default(1).describe("How many occurrences to replace, from the left (negative: all)"),
  split_column: z.string().nullable().default(null).describe("The field whose value is split into a list at split_separator"),
  split_separator: z.string().nullable().default(",").describe("The separator for split_column; null: runs of whitespace"),
}).strict();

export default defineBot({
  kind: "expert",
  name: "format_field",
  intelmq: "intelmq.bots.experts.format_field.expert",
  description: "Strips, replaces text in, or splits into a list the values of configured fields (Python's str.strip/replace/split)",
  params,
  create: (prm) => {
    if (prm.split_column && prm.split_separator === "") {
      throw new ConfigurationError("split_separator", "must not be empty (null splits at whitespace)");
    }
    /** The field's value when it is set and non-empty (Python truthiness); it must be a string then. */
    const text = (event: Message, field: string, op: string): string | null => {
      const value = event.get(field);
      if (falsy(value)) return null;
      if (typeof value !== "string") throw new InvalidValue(field, value, `is no string, cannot ${op} it`);
      return value;
    };
    return {
      process(event) {
        for (const field of prm.strip_columns) {
          const v = text(event, field, "strip");
          if (v !== null) event.add(field, pyStripChars(v, prm.strip_chars), { overwrite: true });
        }
        if (prm.replace_column) {
          const v = text(event, prm.replace_column, "replace in");
          if (v !== null) event.add(prm.replace_column, pyReplace(v, prm.old_value, prm.new_value, prm.replace_count), { overwrite: true });
        }
        if (prm.split_column) {
          const v = text(event, prm.split_column, "split");
          if (v !== null) event.add(prm.split_column, pySplit(v, prm.split_separator), { overwrite: true });
        }
        return event;
      },
    };
  },
});
