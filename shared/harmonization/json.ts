// SPDX-License-Identifier: AGPL-3.0-only
/** JSON and JSONDict: json.loads() and the sanitizing of harmonization.py's JSON types. */
import { isBytes, genericSanitize } from "./generic.js";
import { PyFloat, pyJsonDumps } from "./py.js";

/** json.loads(); undefined when it raises. */
export function jsonLoads(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export const jsonValid = (v: unknown) => typeof v === "string" && jsonLoads(v) !== undefined;
/**
 * JSON/JSONDict sanitize: text (or bytes) valid as it is stays; other text is dumped as a JSON
 * string, any other value as JSON with sorted keys; `empty` values give null.
 */
export function jsonSanitizer(valid: (v: unknown) => boolean, empty: (v: unknown) => boolean): (v: unknown) => string | null {
  return (v) => {
    if (empty(v)) return null;
    if (typeof v === "string" || isBytes(v)) {
      const s = genericSanitize(v);
      if (valid(s)) return s;
      if (isBytes(v)) return null;
    }
    try { return genericSanitize(pyJsonDumps(v, { sortKeys: true })); } catch { return null; }
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !isBytes(v) && !(v instanceof PyFloat) && !(v instanceof Set) && !(v instanceof Map);
}
/** JSONDict.is_valid without sanitize: the text of a non-empty JSON object. */
export function jsonDictValid(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const o = jsonLoads(v);
  if (!isPlainObject(o)) return false;
  for (const _ in o) return true;
  return false;
}
