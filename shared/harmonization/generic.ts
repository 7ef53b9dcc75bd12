// SPDX-License-Identifier: AGPL-3.0-only
/** IntelMQ's GenericType: what every text type starts from (harmonization.py's GenericType and String). */
import { decodeBytes, pyFalsy, pyStr, pyStrip } from "./py.js";

/** Bytes, as Python's bytes values arrive here. */
export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** GenericType.sanitize */
export function genericSanitize(v: unknown): string | null {
  if (pyFalsy(v)) return null;
  if (typeof v === "string") return pyStrip(v);
  if (isBytes(v)) return pyStrip(decodeBytes(v));
  return pyStr(v);
}

/** GenericType.is_valid / String.is_valid without sanitize: a non-empty str. */
export function stringValid(v: unknown): boolean {
  return typeof v === "string" && v.length > 0;
}
